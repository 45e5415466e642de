"""Helpers for tests: waiting on conditions with a deadline, the console's environment."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# The guide's sections 1.1 and 1.2, written out here (not taken from the code)
# so that a metric dropped from the catalog fails the tests.
GUIDE_METRICS = (
    "cpu",
    "memory",
    "disk",
    "api_latency_p50",
    "api_latency_p95",
    "api_latency_p99",
    "api_error_rate",
    "db_pool_usage",
    "db_latency_p95",
    "payment_success_rate",
    "active_sessions",
    "lesson_completion_rate",
)


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


async def await_until(probe: Callable[[], Awaitable[T]], within: float, interval: float = 0.2) -> T:
    """Poll the coroutine `probe` until it returns something true; fail at `within` seconds.

    The failure shows the last value, so a test that times out says how far it got.
    """
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {within} s; last value: {value!r}")
        await asyncio.sleep(interval)


def console_env(**extra: str) -> dict[str, str]:
    """The environment for running the console as a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LESSAY_CONSOLE_")}
    env.update({"TERM": "xterm-256color", "PYTHONUNBUFFERED": "1", **extra})
    return env
