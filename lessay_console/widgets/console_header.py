"""The one-line header: environment (production stands out), DEMO badge, operator, clock."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static


class Clock(Static):
    """Local wall-clock time with its zone; only this widget repaints each second."""

    DEFAULT_CSS = "Clock { width: auto; padding: 0 1; }"

    def on_mount(self) -> None:
        # on a slow link the seconds are not worth their bytes
        self._format = "%H:%M %Z" if getattr(self.app, "low_bandwidth", False) else "%H:%M:%S %Z"
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        # the app's clock, so that a test can stop time
        now = getattr(self.app, "clock", time.time)()
        text = time.strftime(self._format, time.localtime(now))
        if text != self._shown:
            self._shown = text
            self.update(text)

    _shown = ""


class ConsoleHeader(Horizontal):
    """Where am I, as who, and is this real: the first thing read on every screen."""

    DEFAULT_CSS = """
    ConsoleHeader {
        dock: top;
        height: 1;
        background: $panel;
    }
    ConsoleHeader > Static { width: auto; padding: 0 1; }
    ConsoleHeader > #app-name { text-style: bold; }
    ConsoleHeader > #environment { background: $primary-muted; }
    ConsoleHeader > #environment.-production { background: $error; color: $text; text-style: bold; }
    ConsoleHeader > #demo-badge { background: $warning; color: $background; text-style: bold; }
    ConsoleHeader > #spacer { width: 1fr; padding: 0; }
    ConsoleHeader > #operator { color: $text-muted; text-overflow: ellipsis; }
    """

    def __init__(self, environment: str, operator: str, *, demo: bool) -> None:
        super().__init__()
        self.environment = environment
        self.operator = operator
        self.demo = demo

    def compose(self) -> ComposeResult:
        yield Static("lessay-console", id="app-name")
        production = self.environment.lower() in {"production", "prod"}
        if not (self.demo and self.environment.lower() == "demo"):  # the badge says it
            yield Static(
                self.environment.upper(),
                id="environment",
                classes="-production" if production else "",
                markup=False,
            )
        if self.demo:
            yield Static("DEMO", id="demo-badge")
        yield Static(id="spacer")
        yield Static(self.operator, id="operator", markup=False)
        yield Clock(id="clock")
