"""The built-in demo backend: a simulated Lessay deployment served over loopback HTTP.

Core code: stdlib and ``prometheus_client`` only, no Textual. Used by
``lessay-console --demo`` (in a background thread), ``lessay-console
demo-backend`` (standalone) and the test suite (as a real HTTP peer).
"""

from __future__ import annotations

import logging

from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.errors import DemoBackendError, UnknownScenarioError
from lessay_console.demo.model import DemoModel
from lessay_console.demo.scenarios import SCENARIOS, Scenario

# A library logger with no handler configured would fall back to logging's
# "last resort" handler on stderr, which would draw over the TUI.
logging.getLogger("lessay_console.demo").addHandler(logging.NullHandler())

__all__ = [
    "SCENARIOS",
    "DemoBackend",
    "DemoBackendError",
    "DemoModel",
    "Scenario",
    "UnknownScenarioError",
]
