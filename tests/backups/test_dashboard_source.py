"""The backups pane: the source, the metric, its default thresholds, its words."""

from __future__ import annotations

import time
from pathlib import Path

from lessay_console.backups.catalog import Backup
from lessay_console.catalog import METRICS
from lessay_console.config.defaults import THRESHOLDS
from lessay_console.config.model import BackupsConfig, Config, PgBackRestCatalog
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.settings import demo_config
from lessay_console.derived import Reading
from lessay_console.formatting import format_reading
from lessay_console.monitor import Monitor, plan_sources
from lessay_console.rules import DisplayState, Severity
from lessay_console.sources.backups import BackupsSource


async def test_the_demo_dashboard_has_a_backups_pane_that_warns_for_the_gap() -> None:
    with DemoBackend() as backend:
        monitor = Monitor(demo_config(backend))
        try:
            snapshot = await monitor.first_snapshot()
        finally:
            await monitor.aclose()
    status = snapshot.metric("backups")
    assert status.source == "backups"
    assert status.state.state is DisplayState.FIRING
    assert status.state.severity is Severity.WARNING
    assert status.reading.value == 1
    assert status.reading.detail == "kind db_hourly"
    assert dict(status.reading.breakdown) == {
        "db_hourly": 1.0,
        "db_full": 0.0,
        "files_incremental": 0.0,
        "config_export": 0.0,
    }
    assert format_reading(status.spec, status.reading) == "WARN"


def test_the_metric_and_its_default_thresholds() -> None:
    spec = METRICS["backups"]
    assert (spec.title, spec.unit) == ("Backups", "")
    rules = THRESHOLDS["backups"]
    assert rules.warning is not None and rules.critical is not None
    assert (rules.warning.direction, rules.warning.value, rules.warning.for_seconds) == (
        "above",
        0,
        0,
    )
    assert (rules.critical.value, rules.critical.for_seconds) == (1, 0)
    words = [format_reading(spec, Reading(v)) for v in (0.0, 1.0, 2.0, 7.0)]
    assert words == ["OK", "WARN", "CRIT", "7"]


def test_the_source_is_planned_only_with_a_catalog(tmp_path: Path) -> None:
    assert "backups" not in {p.source.name for p in plan_sources(Config())}
    config = Config(backups=BackupsConfig(directory=tmp_path, interval=120))
    (plan,) = [p for p in plan_sources(config) if p.source.name == "backups"]
    assert plan.metrics == ("backups",)
    assert (plan.source.interval, plan.staleness) == (120, 360)


async def test_a_kind_whose_source_failed_gives_no_sample_but_a_problem(tmp_path: Path) -> None:
    script = tmp_path / "pgbackrest"
    script.write_text("#!/bin/sh\necho 'ERROR: [056]: unable to load info file' >&2\nexit 56\n")
    script.chmod(0o755)
    directory = tmp_path / "backups"
    directory.mkdir()
    (directory / "lessay-files-incr-20250303.tar.zst").write_bytes(b"x")
    config = Config(
        backups=BackupsConfig(
            directory=directory,
            names={"files_incremental": r"^lessay-files-incr-"},
            pgbackrest=PgBackRestCatalog(command=(str(script),)),
        )
    )
    collected = await BackupsSource(config).collect()
    by_kind = {s.label("kind"): s.value for s in collected.samples}
    # just written, but the only one: the days of retention before it are missed slots;
    # the pgBackRest kinds have no sample, and config_export no source at all
    assert by_kind == {"files_incremental": 1.0}
    assert any(
        p.startswith("db_hourly: pgbackrest stanza main could not be read: pgbackrest exited 56")
        for p in collected.problems
    ), collected.problems


def test_a_backup_record_in_json() -> None:
    backup = Backup("db_full", "f", time.time(), 10, source="pgbackrest", backup_type="full")
    assert backup.to_json()["type"] == "full" and backup.to_json()["why_not"] is None
