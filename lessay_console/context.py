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
    demo: bool = False  # running on the built-in demo backend
    demo_url: str | None = None  # once the demo backend is up
    read_only: bool = False  # --read-only: checks that read run, commands do not

    @property
    def starting(self) -> bool:
        """The demo backend is still starting: sources are not known yet."""
        return self.demo and self.demo_url is None
