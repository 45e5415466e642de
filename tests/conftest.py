"""Fixtures shared by every test: each test gets its own config and state dirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lessay_console import locations


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's configuration or writes to their state dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.delenv("LESSAY_CONSOLE_CONFIG", raising=False)
    monkeypatch.delenv("LESSAY_CONSOLE_STATE_DIR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(locations, "SYSTEM_CONFIG", tmp_path / "etc/lessay-console/config.toml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen in UTC, whatever the machine's zone: the same text everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# A real PostgreSQL (and PgBouncer) for any test package that asks for one.
from tests.postgres_server import pgbouncer_server, postgres_server  # noqa: E402, F401
