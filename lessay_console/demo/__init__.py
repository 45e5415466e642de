"""The built-in demo backend: a simulated Lessay deployment served over loopback HTTP.

Core code: stdlib and ``prometheus_client`` only, no Textual. Used by
``lessay-console --demo`` (in a background thread), ``lessay-console
demo-backend`` (standalone) and the test suite (as a real HTTP peer).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from lessay_console.demo.errors import DemoBackendError, UnknownScenarioError
from lessay_console.demo.scenarios import SCENARIOS, Scenario

if TYPE_CHECKING:
    from lessay_console.demo.backend import DemoBackend
    from lessay_console.demo.model import DemoModel

# A library logger with no handler configured would fall back to logging's
# "last resort" handler on stderr, which would draw over the TUI.
logging.getLogger("lessay_console.demo").addHandler(logging.NullHandler())

# The server and the simulation (~0.1 s of imports) load on first use, so that
# checking a scenario name or building the demo configuration stays cheap.
_LAZY = {"DemoBackend": "lessay_console.demo.backend", "DemoModel": "lessay_console.demo.model"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCENARIOS",
    "DemoBackend",
    "DemoBackendError",
    "DemoModel",
    "Scenario",
    "UnknownScenarioError",
]
