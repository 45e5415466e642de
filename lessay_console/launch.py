"""Starting the TUI: terminal check, configuration, demo backend, shutdown hooks."""

from __future__ import annotations

import logging
import os
import signal
import sys
from contextlib import ExitStack
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

from lessay_console.config import Config, ConfigError, find_config, load_config
from lessay_console.identity import current_operator
from lessay_console.locations import state_dir

if TYPE_CHECKING:
    from lessay_console.cli import GlobalOptions
    from lessay_console.demo.launcher import DemoLauncher

log = logging.getLogger("lessay_console")


class LaunchError(Exception):
    """The console cannot start; the message (one line per cause) says what to do."""


def terminal_problem() -> str | None:
    """Why the TUI cannot run here, or None when it can."""
    if os.environ.get("TERM", "") == "dumb":
        return "TERM=dumb: this terminal cannot show the console"
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return "standard input or output is not a terminal"
    return None


def run_console(options: GlobalOptions) -> int:
    """Run the TUI until the operator quits or a signal stops it; return the exit status."""
    if problem := terminal_problem():
        raise LaunchError(f"{problem}; for a headless view use `lessay-console status`")
    config = None if options.demo else _load(options.config)
    if config is not None and options.scenario:
        raise LaunchError(
            f"--scenario applies to the demo backend; add --demo (config: {config.source})"
        )
    records = _state_dir(state_dir(options.state_dir))
    _log_to(records / "console.log")
    operator = current_operator(options.operator)

    demo = _demo_launcher(options.scenario) if config is None else None

    from lessay_console.app import LessayConsole
    from lessay_console.context import ConsoleContext

    with ExitStack() as cleanup:
        _exit_on_stop_signals()
        if demo is not None:
            cleanup.callback(demo.stop)  # waits for a start still under way
        context = ConsoleContext(
            config or Config(environment="demo"),
            operator,
            records,
            demo=demo is not None,
            read_only=options.read_only,
        )
        log.info("console started by %s (config: %s)", operator, context.config.source or "demo")
        app = LessayConsole(
            context, demo, war_room=options.war_room, low_bandwidth=options.low_bandwidth
        )
        try:
            app.run()
        finally:
            reason = app.stop_signal.name if app.stop_signal else "operator quit"
            log.info("console stopped: %s", reason)
    return app.return_code or 0


def _exit_on_stop_signals() -> None:
    """Until the app installs its own handlers, a hang-up or SIGTERM still runs the cleanup."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, stop)


def _load(option: Path | None) -> Config | None:
    """The configuration found, or None (run on the demo) when there is none."""
    try:
        found = find_config(option)
        return load_config(found.path) if found else None
    except ConfigError as error:
        lines = [str(problem) for problem in error.problems]
        lines.append("run `lessay-console config check` after fixing the file")
        raise LaunchError("\n".join(lines)) from None


def _state_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise LaunchError(
            f"state directory {path} cannot be created: {error.strerror}; "
            "choose another with --state-dir"
        ) from None
    return path


def _log_to(path: Path) -> None:
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _demo_launcher(scenario: str | None) -> DemoLauncher:
    from lessay_console.demo.launcher import DemoLauncher, UnknownScenarioError

    try:
        return DemoLauncher(scenario or "normal")
    except UnknownScenarioError as error:
        raise LaunchError(str(error)) from None
