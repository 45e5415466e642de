"""Starting the in-process demo backend off the UI's path, and stopping it exactly once.

The console draws its first frame before the demo backend exists: importing
and warming it up costs about 0.2 s, which would otherwise delay the frame.
`start` runs in a worker thread; `stop` runs at shutdown, waits for a start
still under way and stops what it started.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from lessay_console.demo.errors import DemoBackendError, UnknownScenarioError
from lessay_console.demo.scenarios import SCENARIOS

if TYPE_CHECKING:
    from lessay_console.demo.backend import DemoBackend


class DemoLauncher:
    def __init__(self, scenario: str = "normal") -> None:
        if scenario not in SCENARIOS:  # refused before any screen is drawn
            raise UnknownScenarioError(scenario, list(SCENARIOS))
        self.scenario = scenario
        self.backend: DemoBackend | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> DemoBackend:
        """Start the backend (once) and return it; blocking, so call it from a thread."""
        with self._lock:
            if self._stopped:
                raise DemoBackendError("the console is stopping; the demo backend was not started")
            if self.backend is None:
                from lessay_console.demo.backend import DemoBackend

                backend = DemoBackend(scenario=self.scenario)
                backend.start()
                self.backend = backend
            return self.backend

    def stop(self) -> None:
        """Stop the backend if it was started; no start can begin afterwards."""
        with self._lock:
            self._stopped = True
            if self.backend is not None:
                self.backend.stop()
