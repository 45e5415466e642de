"""The Textual application: screens render state and send intents; the core does the work."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from lessay_console.context import ConsoleContext
from lessay_console.screens.overview import OverviewScreen

log = logging.getLogger(__name__)

# Signals that end the console as cleanly as `q` does. Textual installs no
# handler for them: without these a dropped SSH connection (SIGHUP) or a
# `kill` would end the process without its shutdown hooks.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


class LessayConsole(App[None]):
    """The operations console."""

    TITLE = "lessay-console"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console."),
        Binding("ctrl+c", "quit", "Quit", id="quit-ctrl-c", show=False, priority=True),
    ]

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self.context = context
        self.stop_signal: signal.Signals | None = None

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop_on_signal, signum)
        self.push_screen(OverviewScreen(self.context))

    def _stop_on_signal(self, signum: signal.Signals) -> None:
        log.info("received %s; stopping", signum.name)
        self.stop_signal = signum
        self.exit(return_code=128 + signum)
