"""Helpers for tests: waiting on conditions with a deadline, the console's environment."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> object:
    """Poll `predicate` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def console_env(**extra: str) -> dict[str, str]:
    """The environment for running the console as a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LESSAY_CONSOLE_")}
    env.update(TERM="xterm-256color", PYTHONUNBUFFERED="1", **extra)
    return env
