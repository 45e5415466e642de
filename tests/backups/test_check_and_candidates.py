"""The `backup_freshness` check and the recovery candidates, on the demo's backup directory."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lessay_console.backups import Backup, last_good_candidates
from lessay_console.backups.candidates import CatalogUnavailable, candidates_from
from lessay_console.backups.catalog import Catalog, listed
from lessay_console.checks.catalog import KINDS
from lessay_console.checks.model import CheckContext, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.config import Config
from lessay_console.config.model import BackupsConfig
from lessay_console.demo.backups import create_backups

NOW = time.time()


@pytest.fixture
def demo_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    create_backups(directory, NOW)
    return directory


def config_for(directory: Path | None) -> Config:
    return Config(environment="test", backups=BackupsConfig(directory=directory))


async def freshness(config: Config, **params: object):
    spec = CheckSpec("fresh", "backup_freshness", "Backups", params, 30.0)
    return await run_check(spec, CheckContext(config, read_only=True))


def test_the_kind_is_in_the_catalog_and_only_reads() -> None:
    kind = KINDS["backup_freshness"]
    assert [p.name for p in kind.params] == ["schedule_kind"] and not kind.executes


async def test_every_kind_warns_for_the_demos_gap(demo_directory: Path) -> None:
    result = await freshness(config_for(demo_directory))
    assert result.status is CheckStatus.WARN
    assert result.summary.startswith("db_hourly: WARN: last good lessay-db-hourly-")
    assert "ago (every 1h)" in result.summary and "(4 kinds: 3 OK, 1 WARN)" in result.summary
    assert "db_hourly: 1 missed slot inside the 7d retention" in result.detail
    assert any(line.startswith("db_hourly: gap: 1 missed, due ") for line in result.detail)
    assert result.data["kinds"]["db_hourly"]["missed_slots"] == 1


async def test_one_kind_passes(demo_directory: Path) -> None:
    result = await freshness(config_for(demo_directory), schedule_kind="db_full")
    assert result.status is CheckStatus.PASS
    assert result.summary.startswith("db_full: OK: last good lessay-db-full-")
    assert result.detail == ()


async def test_stale_fails_unknown_kind_errors_no_catalog_skips(tmp_path: Path) -> None:
    old = tmp_path / "old"
    create_backups(old, NOW - 10 * 86400)
    failed = await freshness(config_for(old), schedule_kind="db_hourly")
    assert failed.status is CheckStatus.FAIL and "none within 3 x 1h" in failed.detail[0]
    unknown = await freshness(config_for(old), schedule_kind="db_weekly")
    assert unknown.status is CheckStatus.ERROR and "no backup kind 'db_weekly'" in unknown.summary
    skipped = await freshness(config_for(None))
    assert skipped.status is CheckStatus.SKIPPED and "no backup catalog" in skipped.summary
    missing = await freshness(config_for(tmp_path / "nope"))
    assert missing.status is CheckStatus.ERROR and "does not exist" in missing.summary


def newest_database_file(directory: Path) -> str:
    files = [p for p in directory.glob("lessay-db-*") if p.stat().st_size > 0]
    return max(files, key=lambda p: p.stat().st_mtime).name


async def test_candidates_are_the_database_backups_newest_first(demo_directory: Path) -> None:
    empty = demo_directory / "lessay-db-hourly-20000101T0005Z.dump"  # an empty file, long ago
    empty.touch()
    os.utime(empty, (NOW - 3600 * 24, NOW - 3600 * 24))
    candidates = await last_good_candidates(config_for(demo_directory))
    assert {c.kind for c in candidates} == {"db_hourly", "db_full"}
    times = [c.finished_at for c in candidates]
    assert times == sorted(times, reverse=True)
    newest = candidates[0]
    assert isinstance(newest, Backup) and newest.usable
    # the newest database file by when it finished: an hourly snapshot most of the day, the
    # daily full between its end (about 02:30 UTC) and the next hourly at :05
    assert newest.name == newest_database_file(demo_directory)
    assert newest.reason.startswith(f"good {newest.kind} backup (directory), ")
    assert newest.reason.endswith("old; the newest good one")
    assert sum("the newest good one" in c.reason for c in candidates) == 1
    (bad,) = [c for c in candidates if not c.usable]
    assert bad.name == empty.name and bad.reason == "not good: empty file (0 bytes)"


def test_a_future_dated_backup_is_listed_but_not_usable() -> None:
    now = 1_741_000_000.0
    backups = [
        Backup("db_full", "ahead", now + 7200, source="pgbackrest", backup_type="full"),
        Backup("db_full", "fine", now - 60, source="pgbackrest", backup_type="full"),
        Backup("files_incremental", "files", now - 30),
    ]
    catalog = Catalog((listed("x", {"db_full", "files_incremental"}, backups),))
    first, second = candidates_from(catalog, ("db_full",), now)
    assert (first.name, first.usable) == ("ahead", False)
    assert first.reason == "dated 2h00m in the future: a clock is off, not trusted"
    assert (second.name, second.usable) == ("fine", True)
    assert second.reason == "good db_full backup (pgbackrest, full), 1m00s old; the newest good one"


async def test_no_candidates_when_the_catalog_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(CatalogUnavailable, match="no backup catalog configured"):
        await last_good_candidates(config_for(None))
    with pytest.raises(CatalogUnavailable, match="does not exist"):
        await last_good_candidates(config_for(tmp_path / "nope"))
    config = replace(config_for(tmp_path), backups=BackupsConfig(directory=tmp_path))
    assert await last_good_candidates(config) == []


async def test_read_from_a_file_its_kind_key_is_not_taken_for_the_schedule(
    demo_directory: Path,
) -> None:
    """`kind` names the check in a symptom or runbook file; the schedule kind has its own key."""
    from lessay_console.checks.spec import read_check
    from lessay_console.config.reader import Problems, TableReader

    problems = Problems("symptoms.toml")
    table = {"kind": "backup_freshness", "schedule_kind": "db_full"}
    spec = read_check(TableReader(table, ("check",), problems), "check-1")
    assert problems.items == [] and spec is not None
    result = await run_check(spec, CheckContext(config_for(demo_directory), read_only=True))
    assert result.status is CheckStatus.PASS, result.summary
    everything = read_check(TableReader({"kind": "backup_freshness"}, (), problems), "c")
    assert everything is not None
    result = await run_check(everything, CheckContext(config_for(demo_directory)))
    assert result.status is CheckStatus.WARN and "1 WARN" in result.summary
