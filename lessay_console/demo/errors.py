"""Errors the demo backend raises, each with a one-line message an operator can act on."""

from __future__ import annotations


class DemoBackendError(Exception):
    """The demo backend cannot do what was asked (bind, create its data, ...).

    The message is one line, readable by an operator, and says what to change,
    e.g. ``port 8765 on 127.0.0.1 is already in use; choose another with --port``.
    """


class UnknownScenarioError(DemoBackendError, ValueError):
    """A scenario name that is not one of :data:`~lessay_console.demo.SCENARIOS`.

    Also a :class:`ValueError`, so argument parsers treat it as a bad value.
    """

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown scenario {name!r}; choose one of: {', '.join(valid)}")
