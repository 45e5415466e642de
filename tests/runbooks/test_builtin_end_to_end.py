"""Every built-in runbook completed end to end against a real demo backend.

Headless (the engine, no screen), with the demo's site commands (`demo-ctl`)
run for real: the fleet really moves, the snapshot is really written. Manual
steps are confirmed with notes; watch steps are driven by a clock the test
moves and snapshots from a real Monitor of the same backend. Then the CLI, as
an operator runs it, exports each run with the operator on every step, lists
the runs, and verifies the journal.

The three runs go at the same time (a backend each, one journal): the rollouts
wait on the fleet's real drain and deploy times, about 15 s a runbook.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from lessay_console.backups.candidates import last_good_candidates
from lessay_console.config import Config
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.backups import parse_backup_name
from lessay_console.demo.fleet import INITIAL_VERSION
from lessay_console.demo.settings import demo_config
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path
from lessay_console.monitor import Monitor, Snapshot
from lessay_console.runbooks.engine import RunDeps, RunEngine
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.model import Runbook, Step
from lessay_console.runbooks.state import STREAM_PREFIX, RunState, StepStatus
from tests.helpers import console_env
from tests.runbooks.driver_support import HOST

OPERATOR = Operator("dana", HOST, None)
UPGRADE_TO = "2.5.0"
PATCH_TO = "2.4.2"


@dataclass
class MovingClock:
    """Real time until the test moves it (a watch step's hour passes in a line)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Completed:
    """A run done against its own demo backend, and what the backend showed meanwhile."""

    runbook: Runbook
    run_id: str
    state: RunState | None = None
    notes: dict[str, str] = field(default_factory=dict)
    # (step, stage) -> the fleet's versions in rotation right after that stage
    fleet_after: dict[tuple[str, float], Counter[str]] = field(default_factory=dict)
    fleet_end: dict[str, Any] = field(default_factory=dict)
    backups_written: list[str] = field(default_factory=list)
    newest_backup: str = ""
    chosen: str = ""  # the backup chosen from the catalog (Recovery)
    chosen_exists: bool = False
    watch_kinds: dict[str, list[str]] = field(default_factory=dict)


def get_fleet(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/fleet", timeout=5) as response:
        return json.load(response)


def in_rotation(fleet: dict[str, Any]) -> Counter[str]:
    return Counter(node["version"] for node in fleet["nodes"] if node["serving"])


def newest_database_backup(directory: Path) -> str:
    """The newest database backup in `directory`, by when it was written."""
    found = [
        entry
        for entry in directory.iterdir()
        if (parsed := parse_backup_name(entry.name)) and parsed[0] in ("db-hourly", "db-full")
    ]
    return max(found, key=lambda entry: entry.stat().st_mtime).name


async def complete(runbook: Runbook, params: dict[str, str], journal: Journal) -> Completed:
    with DemoBackend() as backend:
        config = demo_config(backend)
        monitor = Monitor(config)
        try:
            await monitor.first_snapshot()
            return await _complete(runbook, params, journal, backend, monitor)
        finally:
            await monitor.aclose()


async def _complete(
    runbook: Runbook,
    params: dict[str, str],
    journal: Journal,
    backend: DemoBackend,
    monitor: Monitor,
) -> Completed:
    async def metrics() -> Snapshot:
        await monitor.poll_all_once()
        return monitor.evaluate()

    clock = MovingClock()
    deps = RunDeps(monitor.config, journal, OPERATOR, metrics, clock)
    engine = await RunEngine.start(runbook, params, deps)
    done = Completed(runbook, engine.state.id)
    backup_dir = backend.backup_dir
    before = set(p.name for p in backup_dir.iterdir())
    while (step := engine.current) is not None:
        if step.kind == "manual" and step.choose == "backup":
            # from the backup catalog, as the run screen offers it: the newest good one
            candidates = await last_good_candidates(monitor.config)
            chosen = next(c for c in candidates if c.usable)
            done.chosen, done.chosen_exists = chosen.name, (backup_dir / chosen.name).exists()
            note = f"{chosen.reason}; the damage began after it finished"
            done.notes[step.id] = note
            await engine.confirm(step, note, choice=chosen.name)
        elif step.kind == "manual":
            note = f"dana: {step.title.lower()}, done"
            done.notes[step.id] = note
            await engine.confirm(step, note)
        elif step.kind == "watch":
            done.watch_kinds[step.id] = await watch_through(engine, step, clock, metrics)
        elif step.kind == "rollout":
            await engine.run(step)
            stage = engine.state.steps[step.id].stages_done[-1]
            fleet = await asyncio.to_thread(get_fleet, backend.url)
            done.fleet_after[step.id, stage] = in_rotation(fleet)
        else:
            await engine.run(step)
        outcome = engine.state.steps[step.id]
        assert outcome.status in (StepStatus.DONE, StepStatus.PENDING), (step.id, outcome)
    done.fleet_end = await asyncio.to_thread(get_fleet, backend.url)
    done.backups_written = sorted(set(p.name for p in backup_dir.iterdir()) - before)
    done.newest_backup = newest_database_backup(backup_dir)
    done.state = engine.state
    await engine.release()
    return done


async def watch_through(engine: RunEngine, step: Step, clock: MovingClock, metrics) -> list[str]:
    """Start the watch, observe it at its start, half way and past its end."""
    assert step.watch is not None
    await engine.run(step)
    ends = clock.now + step.watch.duration
    for at in (clock.now, clock.now + step.watch.duration / 2, ends + 1):
        assert engine.state.steps[step.id].status is StepStatus.RUNNING
        clock.now = at
        await engine.watch_tick(replace(await metrics(), at=at))
    return [e.kind for e in engine.state.steps[step.id].events]


RUNS = {
    "version-upgrade": {"version": UPGRADE_TO},
    "patch-management": {"version": PATCH_TO},
    "recovery": {},
}


@pytest.fixture(scope="module")
def completed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Completed]]:
    """The three built-ins run at once, each on its own demo backend, into one journal."""
    state_dir = tmp_path_factory.mktemp("state")
    runbooks, problems = load_runbooks(Config(), directories=[])  # the built-ins alone
    assert problems == []
    by_id = {r.id: r for r in runbooks}

    async def all_three() -> dict[str, Completed]:
        with Journal.open(journal_path(state_dir), OPERATOR) as journal:
            done = await asyncio.gather(
                *(complete(by_id[name], params, journal) for name, params in RUNS.items())
            )
        return dict(zip(RUNS, done, strict=True))

    return state_dir, asyncio.run(all_three())


def steps_settled(done: Completed) -> None:
    state = done.state
    assert state is not None and state.finished == "completed"
    for step in done.runbook.steps:
        step_state = state.steps[step.id]
        assert step_state.status is StepStatus.DONE, (step.id, step_state.outcome)
        assert step_state.by == "dana", step.id
    for step_id, note in done.notes.items():
        assert state.steps[step_id].note == note


def output(done: Completed, step_id: str) -> str:
    assert done.state is not None
    return "\n".join(done.state.steps[step_id].output)


def test_version_upgrade_moves_the_whole_fleet(completed) -> None:
    _, runs = completed
    done = runs["version-upgrade"]
    steps_settled(done)
    # the snapshot was written into the backup catalog, by the command that said so
    assert len(done.backups_written) == 1
    snapshot = done.backups_written[0]
    assert parse_backup_name(snapshot)[0] == "db-hourly"
    assert f"wrote {snapshot}" in output(done, "create-backup-snapshot")
    assert done.newest_backup == snapshot
    # 10 % first, then 25, 50 and 100 % of the nodes in rotation on the new version
    assert done.fleet_after["deploy-canary", 10.0][UPGRADE_TO] == 1
    rollout = [done.fleet_after["roll-out-to-100", p][UPGRADE_TO] for p in (25.0, 50.0, 100.0)]
    assert rollout == [3, 5, 10]
    fleet = done.fleet_end
    assert len(fleet["nodes"]) == 10
    assert all(n["version"] == UPGRADE_TO and n["serving"] for n in fleet["nodes"]), fleet
    assert fleet["deployment"]["state"] != "in_progress"
    assert "3 migrations applied" in output(done, "run-migrations")
    assert "smoke test passed" in output(done, "run-smoke-tests")
    assert f"converged: 10/10 nodes serve {UPGRADE_TO}" in output(done, "roll-out-to-100")
    checks = done.state.steps["verify-critical-functionality"].checks
    assert set(checks) == {"health", "login", "payments", "alerts"}
    assert checks["health"].status.value == "pass"
    assert done.watch_kinds["monitor-metrics-1-hour"] == [
        "step.started",
        "watch.started",
        "watch.observed",  # what fired at the start (nothing)
        "watch.checkpoint",  # half way
        "watch.checkpoint",  # at the end
        "step.completed",
    ]


def test_patch_management_moves_the_whole_fleet(completed) -> None:
    _, runs = completed
    done = runs["patch-management"]
    steps_settled(done)
    stages = [done.fleet_after["canary-rollout", p][PATCH_TO] for p in (10.0, 25.0, 50.0, 100.0)]
    assert stages == [1, 3, 5, 10]
    fleet = done.fleet_end
    assert [n["version"] for n in fleet["nodes"]] == [PATCH_TO] * 10
    assert all(n["serving"] and n["status"] == "ready" for n in fleet["nodes"])
    assert "no staging environment" in output(done, "apply-to-staging")
    watch = done.state.steps["monitor-24-hours"]
    assert watch.ended_at - watch.started_at > 24 * 3600  # the test's clock moved a day
    assert set(done.state.steps["verify-metrics"].checks) == {"alerts", "error-rate", "latency-p95"}


def test_recovery_restores_from_the_backup_it_named(completed) -> None:
    _, runs = completed
    done = runs["recovery"]
    steps_settled(done)
    backup = done.chosen
    assert parse_backup_name(backup)[0] in ("db-hourly", "db-full") and done.chosen_exists
    identify = done.state.steps["identify-backup"]
    assert identify.choice == backup and identify.outcome == f"chose backup {backup}"
    assert "the newest good one" in identify.note
    assert f"would restore the database from {backup} " in output(done, "restore-database")
    restore = [e for e in done.state.events if e.kind == "step.completed" and "argv" in e.data]
    assert ["--backup", backup] == restore[0].data["argv"][-2:]  # {backup} filled in
    assert done.state.steps["enable-traffic"].stages_done == [10.0, 50.0, 100.0]
    assert in_rotation(done.fleet_end) == Counter({INITIAL_VERSION: 10})  # traffic moves no node
    assert done.backups_written == []


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lessay_console", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        env=console_env(),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", list(RUNS))
def test_the_export_names_the_operator_on_every_step(completed, name: str) -> None:
    state_dir, runs = completed
    done = runs[name]
    number = done.run_id.removeprefix(STREAM_PREFIX)
    markdown = cli(state_dir, "runbook", "export", number)
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert f"# Change record: {done.runbook.title}" in text
    assert "- State: completed at " in text
    steps_part = text.split("\n## Notes\n")[0].split("\n## Timeline\n")[0]
    sections = re.split(r"^### ", steps_part, flags=re.MULTILINE)[1:]
    assert [s.split(":", 1)[0] for s in sections] == [s.title for s in done.runbook.steps]
    for step, section in zip(done.runbook.steps, sections, strict=True):
        assert section.split("\n", 1)[0].endswith(": DONE"), section
        assert "\n- By dana at " in section, section
        if step.id in done.notes:
            assert f"\n- Note: {done.notes[step.id]}\n" in section
        # every line its commands printed, every stage of a rollout included, in its section
        printed = [
            e.data["text"] for e in done.state.steps[step.id].events if e.kind == "step.output"
        ]
        for line in "\n".join(printed).splitlines():
            assert line in section, (step.id, line)
        if step.rollout is not None:
            for percent in step.rollout.stages:
                assert f"\n- Stage {percent:g}% done: `" in section
            checks = [e for e in done.state.steps[step.id].events if e.kind == "step.check"]
            assert len(checks) == len(step.rollout.stages) * len(step.rollout.verify)
            assert section.count("\n  - Check ") == len(checks)  # under their stage

    as_json = cli(state_dir, "runbook", "export", number, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    record = json.loads(as_json.stdout)
    assert record["run"] == done.run_id and record["finished"] == "completed"
    assert [(s["id"], s["status"], s["by"]) for s in record["steps"]] == [
        (s.id, "done", "dana") for s in done.runbook.steps
    ]
    printed = [e.data["text"] for e in done.state.events if e.kind == "step.output"]
    assert "\n".join(s["output"] for s in record["steps"] if s["output"]) == "\n".join(printed)
    assert {e["operator"] for e in record["events"]} == {"dana"}


def test_runs_are_listed_and_the_journal_verifies(completed) -> None:
    state_dir, runs = completed
    listed = cli(state_dir, "runbook", "runs")
    assert listed.returncode == 0, listed.stderr
    for done in runs.values():
        line = next(
            line
            for line in listed.stdout.splitlines()
            if line.startswith(done.run_id.removeprefix(STREAM_PREFIX))
        )
        total = len(done.runbook.steps)
        assert f"{done.runbook.title}  {total}/{total}  completed" in line
    verified = cli(state_dir, "journal", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout
