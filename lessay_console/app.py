"""The Textual application: screens render state and send intents; the core does the work."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from lessay_console.context import ConsoleContext
from lessay_console.demo.launcher import DemoLauncher
from lessay_console.screens.overview import OverviewScreen

log = logging.getLogger(__name__)

# Signals that end the console as cleanly as `q` does. Textual installs no
# handler for them: without these a dropped SSH connection (SIGHUP) or a
# `kill` would end the process without its shutdown hooks.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


class LessayConsole(App[None]):
    """The operations console."""

    TITLE = "lessay-console"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console."),
        Binding("ctrl+c", "quit", "Quit", id="quit-ctrl-c", show=False, priority=True),
    ]

    def __init__(self, context: ConsoleContext, demo: DemoLauncher | None = None) -> None:
        super().__init__()
        self.context = context
        self.demo = demo
        self.stop_signal: signal.Signals | None = None

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop_on_signal, signum)
        self.push_screen(OverviewScreen(self.context))
        if self.demo is not None:
            # after the first frame: the operator sees the console at once
            self.call_after_refresh(self._start_demo)

    def _start_demo(self) -> None:
        if self.demo is None:
            return
        self.run_worker(self.demo.start, name="demo-start", thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "demo-start":
            return
        if event.state == WorkerState.SUCCESS:
            from lessay_console.demo.settings import demo_config

            backend = event.worker.result
            log.info("demo backend at %s, data in %s", backend.url, backend.data_dir)
            self.context = replace(self.context, config=demo_config(backend), demo_url=backend.url)
            for screen in self.screen_stack:
                if isinstance(screen, OverviewScreen):
                    screen.show_context(self.context)
        elif event.state == WorkerState.ERROR:
            log.error("demo backend failed to start: %s", event.worker.error)
            self.exit(return_code=2, message=f"lessay-console: demo backend: {event.worker.error}")

    def _stop_on_signal(self, signum: signal.Signals) -> None:
        log.info("received %s; stopping", signum.name)
        self.stop_signal = signum
        self.exit(return_code=128 + signum)
