"""What a console session runs with, handed from the launcher to the UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lessay_console.config import Config
from lessay_console.identity import Operator


@dataclass(frozen=True)
class ConsoleContext:
    config: Config
    operator: Operator
    state_dir: Path
    demo_url: str | None = None  # set when running on the built-in demo backend
