"""The core has no Textual in it: it must import and run without a screen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lessay_console

PACKAGE = Path(lessay_console.__file__).parent
UI = {"app", "launch", "screens", "widgets"}


def core_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in UI or parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(("lessay_console", *parts)))
    return modules


def test_core_modules_do_not_import_textual() -> None:
    modules = core_modules()
    assert "lessay_console.config.loader" in modules
    assert "lessay_console.demo" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_cli_help_does_not_load_the_ui_or_network_stack() -> None:
    """Start-up cost: `--help` and the sub-commands import only what they need."""
    script = (
        "import sys\n"
        "from lessay_console import cli\n"
        "heavy = [m for m in ('textual', 'httpx', 'asyncpg', 'prometheus_client') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
