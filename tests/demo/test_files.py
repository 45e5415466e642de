"""What the backend writes to disk: JSON-lines logs and the backup catalog."""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lessay_console.demo import DemoBackend
from lessay_console.demo.backups import (
    BACKUP_KINDS,
    BACKUP_PATTERNS,
    HOURLY_GAP_AGE,
    create_backups,
    hourly_gap,
    parse_backup_name,
)
from lessay_console.demo.logs import LogWriter, rotated_path
from tests.demo.demo_support import WALL0, FakeClock
from tests.helpers import await_until


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_logs_are_json_lines_with_five_minutes_of_history(backend: DemoBackend) -> None:
    assert set(backend.log_paths) == {"api", "auth", "payments"}
    now = datetime.now(UTC)
    for service, path in backend.log_paths.items():
        records = _lines(path)
        assert len(records) >= 250  # about one info line per second, plus the rest
        for record in records:
            assert {"ts", "level", "service", "msg", "request_id"} <= set(record)
            assert record["service"] == service
            assert record["level"] in {"info", "warning", "error"}
        first = datetime.fromisoformat(records[0]["ts"])
        assert records[0]["ts"].endswith("Z") and len(records[0]["ts"]) == 24  # ms precision
        assert timedelta(minutes=4) < now - first < timedelta(minutes=6)
        assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)


@pytest.mark.parametrize(
    ("scenario", "service", "needle"),
    [
        ("error-spike", "api", "Traceback (most recent call last)"),
        ("payment-failures", "payments", "api_connection_error"),
        ("login-failures", "auth", "IdP discovery failed"),
        ("db-exhaustion", "api", "too many connections"),
        ("high-latency", "api", "slow query"),
    ],
)
def test_a_failing_scenario_logs_its_cause(
    make_backend: Callable[..., DemoBackend], scenario: str, service: str, needle: str
) -> None:
    backend = make_backend(scenario=scenario)
    text = backend.log_paths[service].read_text()
    assert needle in text
    problems = [r for r in _lines(backend.log_paths[service]) if r["level"] != "info"]
    assert len(problems) > 20
    if scenario == "payment-failures":
        stripe = [r for r in problems if r.get("upstream") == "api.stripe.com"]
        assert all(r["stripe_request_id"].startswith("req_") for r in stripe)
    if scenario == "high-latency":
        assert any("SELECT" in r.get("query", "") for r in problems)
        assert any(r["msg"] == "slow request" and r["duration_ms"] > 1000 for r in problems)


async def test_the_ticker_appends_as_time_passes(
    fake_backend: DemoBackend, fake_clock: FakeClock
) -> None:
    path = fake_backend.log_paths["api"]
    size = path.stat().st_size
    fake_clock.advance(5.0)

    async def grown() -> bool:
        return path.stat().st_size > size

    assert await await_until(grown, within=5)
    assert _lines(path)[-1]["ts"] > datetime.fromtimestamp(WALL0, UTC).isoformat()[:19]


def test_logs_rotate_keeping_one(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "logs", max_bytes=2_000)
    writer.reset()
    record = {"ts": "2025-03-03T12:00:00.000Z", "level": "info", "service": "api", "msg": "x" * 90}
    for _ in range(10):  # 5 lines (~820 bytes) a second, as the ticker writes them
        writer.write([record] * 5)
    path = writer.paths["api"]
    assert rotated_path(path).exists()
    assert path.stat().st_size <= 2_000
    assert rotated_path(path).stat().st_size <= 2_000
    writer.reset()
    assert not rotated_path(path).exists()
    assert path.stat().st_size == 0


def _catalog(directory: Path) -> dict[str, list[tuple[datetime, os.stat_result]]]:
    catalog: dict[str, list[tuple[datetime, os.stat_result]]] = {}
    for entry in directory.iterdir():
        parsed = parse_backup_name(entry.name)
        assert parsed is not None, entry.name
        catalog.setdefault(parsed[0], []).append((parsed[1], entry.stat()))
    return {kind: sorted(items, key=lambda item: item[0]) for kind, items in catalog.items()}


def test_backups_follow_the_schedule_with_one_gap(fake_backend: DemoBackend) -> None:
    start = datetime.fromtimestamp(WALL0, UTC)  # the fake wall clock at start
    catalog = _catalog(fake_backend.backup_dir)
    counts = {kind: len(items) for kind, items in catalog.items()}
    assert counts == {"db-hourly": 7 * 24 - 1, "db-full": 30, "files-incr": 14, "config": 8}

    hourly = [when for when, _ in catalog["db-hourly"]]
    assert all(when.minute == 5 for when in hourly)
    hour = timedelta(hours=1)
    missing = [a + hour for a, b in itertools.pairwise(hourly) if b - a > hour]
    assert missing == [hourly_gap(start)]
    assert abs(start - missing[0] - HOURLY_GAP_AGE) <= timedelta(minutes=35)
    assert start - hourly[-1] < timedelta(hours=1, minutes=10)  # the latest is recent

    for kind, items in catalog.items():
        spec = BACKUP_KINDS[kind]
        for when, stat in items:
            finished = datetime.fromtimestamp(stat.st_mtime, UTC)
            scheduled = when if kind == "db-hourly" else when + spec.first_slot
            assert spec.duration[0] <= (finished - scheduled).total_seconds() <= spec.duration[1]
            assert finished <= start
            assert spec.size[0] <= stat.st_size <= spec.size[1]
            assert stat.st_blocks * 512 < stat.st_size  # sparse: no disk used
    newest_full = catalog["db-full"][-1][0]
    assert newest_full.date() in {start.date(), start.date() - timedelta(days=1)}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("lessay-db-hourly-20250303T1105Z.dump", "db-hourly"),
        ("lessay-db-full-20250303.dump", "db-full"),
        ("lessay-files-incr-20250303.tar.zst", "files-incr"),
        ("lessay-config-2025-W10.tar.gz", "config"),
    ],
)
def test_the_naming_rule(name: str, kind: str) -> None:
    assert [k for k, pattern in BACKUP_PATTERNS.items() if pattern.match(name)] == [kind]
    assert parse_backup_name(name) is not None
    assert parse_backup_name(name)[0] == kind  # type: ignore[index]
    assert parse_backup_name("notes.txt") is None


def test_config_weeks_parse_to_their_monday() -> None:
    parsed = parse_backup_name("lessay-config-2025-W10.tar.gz")
    assert parsed == ("config", datetime(2025, 3, 3, tzinfo=UTC))


def test_recreating_replaces_only_backups(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("keep me")
    create_backups(tmp_path, WALL0)
    create_backups(tmp_path, WALL0 + 86_400)
    names = [entry.name for entry in tmp_path.iterdir()]
    assert "README" in names
    kinds = Counter(parsed[0] for name in names if (parsed := parse_backup_name(name)))
    assert kinds == {"db-hourly": 167, "db-full": 30, "files-incr": 14, "config": 8}
