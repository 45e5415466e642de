"""Fixtures for the demo backend tests: real servers on free ports, fake clocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from lessay_console.demo import DemoBackend
from tests.demo.demo_support import FakeClock


@pytest.fixture
def make_backend() -> Iterator[Callable[..., DemoBackend]]:
    """Start demo backends on free ports; every one is stopped at teardown."""
    started: list[DemoBackend] = []

    def make(**kwargs: Any) -> DemoBackend:
        backend = DemoBackend(**kwargs)
        backend.start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.stop()


@pytest.fixture
def backend(make_backend: Callable[..., DemoBackend]) -> DemoBackend:
    """A demo backend on the real clock, scenario ``normal``."""
    return make_backend()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_backend(make_backend: Callable[..., DemoBackend], fake_clock: FakeClock) -> DemoBackend:
    """A demo backend whose clocks only move when the test says so."""
    return make_backend(clock=fake_clock, wall_clock=fake_clock.wall)


@pytest.fixture
async def client(backend: DemoBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend.url, timeout=5.0) as http:
        yield http


@pytest.fixture
async def fake_client(fake_backend: DemoBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake_backend.url, timeout=5.0) as http:
        yield http
