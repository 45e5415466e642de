"""Shared pieces of the troubleshooting wizard's tests: user symptom files, the app, waiting.

A user symptom file goes where an operator puts one: the user config dir's
`symptoms/` (conftest points XDG_CONFIG_HOME at the test's own home, and a
console started as a subprocess with `console_env()` inherits it).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Log, OptionList, Static

from lessay_console.app import LessayConsole
from lessay_console.context import ConsoleContext
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.settings import demo_config
from lessay_console.journal import Event, Journal, journal_path
from lessay_console.locations import user_config_file
from lessay_console.screens.diagnosis import DiagnosisScreen
from lessay_console.screens.troubleshoot import SymptomScreen
from tests import ui_support
from tests.helpers import console_env
from tests.pty_terminal import PtyProcess
from tests.ui_support import OPERATOR

PAYMENT_FAILURES = ((0, "normal"), (2, "payment-failures"))  # the payment alert fires


# -- symptom files ----------------------------------------------------------------
def user_symptoms_dir() -> Path:
    return user_config_file().parent / "symptoms"


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes (\\uXXXX, \\n, \\") are TOML's too (BMP only)."""
    return json.dumps(text)


def toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def write_user_symptom(name: str, text: str) -> Path:
    directory = user_symptoms_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def command_check(check_id: str, title: str, argv: Sequence[str], symptom: str, **extra) -> str:
    lines = [
        f"[[symptom.{symptom}.check]]",
        f"id = {toml_string(check_id)}",
        'kind = "command"',
        f"title = {toml_string(title)}",
        f"argv = {toml_list(argv)}",
    ]
    lines += [f"{key} = {toml_string(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n\n"


# -- the app ------------------------------------------------------------------------
def demo_app(
    backend: DemoBackend,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    timeline: Sequence[tuple[float, str]] = PAYMENT_FAILURES,
    read_only: bool = False,
) -> LessayConsole:
    """The console on a real demo backend: checks reach its HTTP server and log files.

    The metrics are the scripted monitor's (the alert already firing, no wait for a
    `for` duration), frozen at *now* rather than at ui_support's T0, so that the
    logs check's window covers the lines the backend writes.
    """
    now = float(int(time.time()))
    monkeypatch.setattr(ui_support, "T0", now)
    config = demo_config(backend)
    monitor = ui_support.scripted_monitor(timeline, minutes=4, config=config)
    context = ConsoleContext(
        config, OPERATOR, state_dir, demo=True, demo_url=backend.url, read_only=read_only
    )
    return LessayConsole(context, monitor=monitor, clock=lambda: now)


# -- driving and reading the screens ------------------------------------------------------
async def until(
    pilot: Pilot, predicate: Callable[[], object], within: float = 15.0, what: str = ""
) -> object:
    """Let the app run until `predicate()` is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what or predicate}")
        await pilot.pause(0.02)
    return value


async def open_wizard(pilot: Pilot, app: LessayConsole) -> SymptomScreen:
    await pilot.pause()
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, SymptomScreen), what="symptom screen")
    assert isinstance(app.screen, SymptomScreen)
    return app.screen


async def diagnose(pilot: Pilot, app: LessayConsole, symptom_id: str) -> DiagnosisScreen:
    """`t`, the symptom highlighted, Enter: the diagnosis screen, checks started."""
    screen = await open_wizard(pilot, app)
    options = screen.query_one("#symptoms", OptionList)
    options.highlighted = options.get_option_index(symptom_id)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DiagnosisScreen), what="diagnosis screen")
    assert isinstance(app.screen, DiagnosisScreen)
    return app.screen


def text_of(screen, selector: str) -> str:
    """A Static's content as plain text (a Rich renderable rendered 200 columns wide)."""
    content = screen.query_one(selector, Static).content
    if isinstance(content, str | Content | Text):
        return str(content) if not isinstance(content, Text) else content.plain
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def detail(screen: DiagnosisScreen) -> str:
    return text_of(screen, "#detail-text")


def progress(screen: DiagnosisScreen) -> str:
    return text_of(screen, "#progress")


def symptom_rows(screen: SymptomScreen) -> list[tuple[str, str]]:
    options = screen.query_one("#symptoms", OptionList)
    return [(str(o.id), str(o.prompt)) for o in options.options]


def check_rows(screen: DiagnosisScreen) -> dict[str, str]:
    """Each check's row in the list as shown: "FAIL    Title  summary"."""
    options = screen.query_one("#checks", OptionList)
    return {str(o.id): str(o.prompt) for o in options.options}


def output_lines(screen: DiagnosisScreen) -> list[str]:
    return list(screen.query_one("#output", Log).lines)


async def checks_done(pilot: Pilot, screen: DiagnosisScreen, within: float = 20.0) -> str:
    await until(pilot, lambda: " done" in progress(screen), within, what="checks done")
    return progress(screen)


def journal_events(state_dir: Path, stream: str | None = None) -> list[Event]:
    """The journal as a fresh reader sees it (another connection than the app's)."""
    with Journal.open(journal_path(state_dir), OPERATOR) as journal:
        return journal.events(stream)


def kinds(events: Iterable[Event]) -> list[str]:
    return [e.kind for e in events]


# -- the console in a real pseudo-terminal ----------------------------------------------------
END_KEY = b"\x1b[F"


@contextmanager
def console_in_pty(
    state_dir: Path,
    operator: str,
    cols: int = 160,
    rows: int = 48,
    env: dict[str, str] | None = None,
) -> Iterator[PtyProcess]:
    """`lessay-console --demo` in a pty, once its panes show the demo's numbers.

    On the way out the console is killed if it still runs, and the demo backend's
    data dir removed if the console had no chance to (killed, it cannot).
    """
    argv = [
        sys.executable,
        "-m",
        "lessay_console",
        "--demo",
        "--operator",
        operator,
        "--state-dir",
        str(state_dir),
    ]
    process = PtyProcess(argv, console_env(**(env or {})), cols=cols, rows=rows)
    try:
        process.wait_for(lambda screen: "API p95" in screen and "ms" in screen, timeout=30)
        yield process
    finally:
        process.close()
        data_dir = demo_data_dir(state_dir)
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


def diagnose_last_symptom(process: PtyProcess, title: str) -> None:
    """`t`, End (the user's symptoms come after the built-ins), Enter."""
    process.send(b"t")
    process.wait_for(lambda screen: "Troubleshoot: what do you see?" in screen)
    mark = len(process.text())
    process.send(END_KEY)
    process.wait_for(lambda screen: title in screen[mark:])
    process.send(b"\r")
    process.wait_for(lambda screen: "· incident " in screen)


def demo_data_dir(state_dir: Path) -> Path | None:
    """The demo backend's data dir, as the console logged it (None before it is up)."""
    log = state_dir / "console.log"
    if not log.exists():
        return None
    match = re.search(r"demo backend at \S+, data in (\S+)", log.read_text())
    return Path(match[1]) if match else None
