"""The runbook engine headless: every step kind, blocking and overrides, resume, holders."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lessay_console.identity import Operator
from lessay_console.journal import journal_path, verify
from lessay_console.runbooks.engine import LostHold, RunEngine, RunError, RunHeld
from lessay_console.runbooks.model import CommandSpec
from lessay_console.runbooks.state import StepStatus
from lessay_console.runbooks.steps import abort_rollout
from lessay_console.runbooks.watching import account_gap, pending_gap
from tests.runbooks.engine_support import OPERATOR, T0, Bench, command_check, every_kind_runbook
from tests.ui_support import scripted_monitor


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


async def started(bench: Bench, runbook=None) -> RunEngine:
    runbook = runbook or every_kind_runbook(bench.tmp)
    return await RunEngine.start(runbook, {"version": "2.5.0"}, bench.deps())


def status(engine: RunEngine, step_id: str) -> StepStatus:
    return engine.state.steps[step_id].status


def kinds(engine: RunEngine) -> list[str]:
    return [e.kind for e in engine.deps.journal.events(engine.state.id)]


async def test_manual_steps_and_a_required_note(bench: Bench) -> None:
    engine = await started(bench)
    runbook = engine.runbook
    assert engine.current.id == "notify"
    await engine.confirm(runbook.step("notify"))
    with pytest.raises(RunError, match="needs a note"):
        await engine.confirm(runbook.step("document"), "  ")
    assert status(engine, "document") is StepStatus.PENDING
    await engine.confirm(runbook.step("document"), "rollback: deploy 2.4.1 to 100%")
    state = engine.state.steps["document"]
    assert state.status is StepStatus.DONE and state.by == "dana"
    assert state.note == "rollback: deploy 2.4.1 to 100%"
    events = engine.deps.journal.events(engine.state.id)
    assert {e.operator for e in events} == {"dana"}
    assert {e.ssh_client for e in events} == {"10.0.0.7"}


async def test_steps_go_in_order(bench: Bench) -> None:
    engine = await started(bench)
    with pytest.raises(RunError, match="not the step to do now"):
        await engine.run(engine.runbook.step("migrate"))
    assert "step.started" not in kinds(engine)


async def test_a_failed_check_blocks_until_overridden_with_a_reason(bench: Bench) -> None:
    runbook = every_kind_runbook(bench.tmp)
    failing = replace(runbook.step("checks"), checks=(command_check("broken", "exit 3"),))
    phases = (replace(runbook.phases[0], steps=(failing,)), runbook.phases[1])
    engine = await started(bench, replace(runbook, phases=phases))
    await engine.run(failing)
    assert status(engine, "checks") is StepStatus.FAILED
    assert "exit 3" in engine.state.steps["checks"].outcome
    assert engine.current.id == "checks"  # blocked there
    with pytest.raises(RunError, match="not the step to do now"):
        await engine.run(engine.runbook.step("migrate"))
    with pytest.raises(RunError, match="written reason"):
        await engine.override(failing, " ")
    await engine.override(failing, "known flake in the canary check; INC-123")
    assert status(engine, "checks") is StepStatus.OVERRIDDEN
    assert engine.current.id == "migrate"
    override = [
        e for e in engine.deps.journal.events(engine.state.id) if e.kind == "step.overridden"
    ]
    assert override[0].data["reason"] == "known flake in the canary check; INC-123"


async def walk_to(engine: RunEngine, step_id: str) -> None:
    """Do every step before `step_id` the ordinary way."""
    for step in engine.runbook.steps:
        if step.id == step_id:
            return
        if step.kind == "manual":
            await engine.confirm(step, "done")
        elif step.kind == "rollout":
            while status(engine, step.id) is not StepStatus.DONE:
                await engine.run(step)
        else:
            await engine.run(step)


async def test_a_command_step_records_its_argv_exit_and_output(bench: Bench) -> None:
    engine = await started(bench)
    await walk_to(engine, "migrate")
    shown: list[str] = []
    await engine.run(engine.runbook.step("migrate"), emit=shown.append)
    assert shown == ["migrating to 2.5.0"]
    state = engine.state.steps["migrate"]
    assert state.status is StepStatus.DONE
    assert state.output == ["migrating to 2.5.0"]
    done = next(e for e in state.events if e.kind == "step.completed")
    assert done.data["argv"] == ["sh", "-c", "echo migrating to 2.5.0"]
    assert done.data["exit_code"] == 0


async def test_a_failing_command_fails_its_step(bench: Bench) -> None:
    runbook = every_kind_runbook(bench.tmp)
    bad = replace(
        runbook.step("migrate"), command=CommandSpec(argv=("sh", "-c", "echo no; exit 4"))
    )
    phases = (runbook.phases[0], replace(runbook.phases[1], steps=(bad,)))
    engine = await started(bench, replace(runbook, phases=phases))
    await walk_to(engine, "migrate")
    await engine.run(bad)
    state = engine.state.steps["migrate"]
    assert state.status is StepStatus.FAILED
    assert "exit 4" in state.outcome


async def test_an_unconfigured_named_command_is_done_by_hand(bench: Bench) -> None:
    runbook = every_kind_runbook(bench.tmp)
    named = replace(runbook.step("migrate"), command=CommandSpec(named="migrate"))
    phases = (runbook.phases[0], replace(runbook.phases[1], steps=(named,)))
    engine = await started(bench, replace(runbook, phases=phases))
    await walk_to(engine, "migrate")
    assert engine.by_hand(named) is not None
    with pytest.raises(RunError, match="done by hand"):
        await engine.run(named)
    await engine.confirm(named, "ran the migrations from the release notes")
    done = engine.state.steps["migrate"]
    assert done.status is StepStatus.DONE and done.outcome == "done by hand"


async def test_a_configured_named_command_runs(bench: Bench) -> None:
    bench.config = replace(bench.config, commands={"migrate": ("echo", "to", "{version}")})
    runbook = every_kind_runbook(bench.tmp)
    named = replace(runbook.step("migrate"), command=CommandSpec(named="migrate"))
    phases = (runbook.phases[0], replace(runbook.phases[1], steps=(named,)))
    engine = await started(bench, replace(runbook, phases=phases))
    await walk_to(engine, "migrate")
    await engine.run(named)
    assert engine.state.steps["migrate"].output == ["to 2.5.0"]


async def test_read_only_runs_no_command(bench: Bench) -> None:
    marker = bench.tmp / "ran"
    runbook = every_kind_runbook(bench.tmp)
    touching = replace(runbook.step("migrate"), command=CommandSpec(argv=("touch", str(marker))))
    phases = (runbook.phases[0], replace(runbook.phases[1], steps=(touching,)))
    engine = await RunEngine.start(
        replace(runbook, phases=phases), {"version": "1"}, bench.deps(), read_only=True
    )
    await walk_to(engine, "migrate")
    with pytest.raises(RunError, match="read-only"):
        await engine.run(touching)
    assert not marker.exists()
    await engine.skip(touching, "followed in read-only mode")
    assert status(engine, "migrate") is StepStatus.SKIPPED


async def test_rollout_stage_by_stage_across_a_restart_then_abort(bench: Bench) -> None:
    engine = await started(bench)
    await walk_to(engine, "rollout")
    step = engine.runbook.step("rollout")
    await engine.run(step)
    state = engine.state.steps["rollout"]
    assert state.stages_done == [10.0] and state.status is StepStatus.PENDING
    assert "deployed" in state.checks  # verification recorded
    await engine.release()
    # another console resumes at the next stage
    other = RunEngine.load(engine.runbook, engine.state.id, bench.fresh_deps(OPERATOR))
    await other.attach()
    assert other.current.id == "rollout"
    await other.run(step)
    assert other.state.steps["rollout"].stages_done == [10.0, 50.0]
    assert (bench.tmp / "stages.txt").read_text().split() == ["10", "50"]
    await abort_rollout(other, step, "error rate up at 50%", None)
    assert other.state.steps["rollout"].status is StepStatus.FAILED
    assert "rollback" in other.state.steps["rollout"].outcome
    assert (bench.tmp / "stages.txt").read_text().split()[-1] == "rolled-back"
    assert "rollout.rolled_back" in kinds(other)


async def test_a_step_left_running_is_interrupted_and_never_rerun(bench: Bench) -> None:
    engine = await started(bench)
    await walk_to(engine, "migrate")
    step = engine.runbook.step("migrate")
    # the console dies after recording the start, before the end
    await engine.record("step.started", {"step": step.id, "session": engine.session})
    # a holder whose process has ended (this test's own child, waited for)
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    await engine.record(
        "run.held",
        {"session": "gone", "pid": child.pid, "host": OPERATOR.host, "pid_started": 1.0},
    )
    other = RunEngine.load(engine.runbook, engine.state.id, bench.fresh_deps(OPERATOR))
    await other.attach()  # the holder is gone: no take-over needed
    assert status(other, "migrate") is StepStatus.INTERRUPTED
    assert kinds(other)[-1] == "step.interrupted"
    with pytest.raises(RunError, match="interrupted"):
        await other.run(step)
    with pytest.raises(RunError, match="how you checked"):
        await other.resolve_interrupted(step, True, "")
    await other.resolve_interrupted(step, True, "schema_migrations shows 0042 applied")
    assert status(other, "migrate") is StepStatus.DONE
    assert other.current.id == "rollout"


async def test_a_second_console_sees_the_holder_and_may_take_over(bench: Bench) -> None:
    engine = await started(bench)
    erin = Operator("erin", "bastion-1", None)
    second = RunEngine.load(engine.runbook, engine.state.id, bench.fresh_deps(erin))
    with pytest.raises(RunHeld) as held:
        await second.attach()
    assert held.value.holder.operator == "dana"
    assert "dana on bastion-1" in str(held.value)
    await second.attach(take_over=True)
    took = [e for e in second.deps.journal.events(engine.state.id) if e.kind == "run.held"][-1]
    assert took.operator == "erin" and took.data["took_over_from"]["operator"] == "dana"
    with pytest.raises(LostHold, match="erin"):
        await engine.confirm(engine.runbook.step("notify"))
    await second.confirm(second.runbook.step("notify"))
    assert second.state.steps["notify"].by == "erin"


async def test_watch_completes_at_its_end_and_survives_a_restart(bench: Bench) -> None:
    monitor = scripted_monitor()
    engine = await started(bench)
    await walk_to(engine, "watch")
    step = engine.runbook.step("watch")
    bench.clock.now = T0
    await engine.run(step)
    await engine.watch_tick(replace(monitor.evaluate(T0), at=T0 + 5))
    assert status(engine, "watch") is StepStatus.RUNNING
    # the console dies; another comes back an hour later: a gap nobody watched
    bench.clock.now = T0 + 3600
    other = RunEngine.load(engine.runbook, engine.state.id, bench.fresh_deps(OPERATOR))
    other.deps.journal.append("run/unrelated", "noise", {})  # other streams do not matter
    await other.attach(take_over=True)
    assert status(other, "watch") is StepStatus.RUNNING  # a watch resumes, never interrupted
    gap = pending_gap(other, step)
    assert gap is not None and gap[0] == pytest.approx(T0 + 5) and gap[1] == T0 + 600
    await other.watch_tick(replace(monitor.evaluate(T0), at=T0 + 3600))
    assert status(other, "watch") is StepStatus.RUNNING  # not done while the gap is open
    await account_gap(other, step, quiet=True, note="pager history: nothing in that hour")
    await other.watch_tick(replace(monitor.evaluate(T0), at=T0 + 3601))
    assert status(other, "watch") is StepStatus.DONE
    gap_event = [e for e in other.deps.journal.events(engine.state.id) if e.kind == "watch.gap"]
    assert gap_event[0].data["source"] == "operator"
    assert gap_event[0].data["note"] == "pager history: nothing in that hour"


async def test_a_critical_alert_fails_the_watch(bench: Bench) -> None:
    monitor = scripted_monitor(((0, "normal"), (2, "payment-failures")))
    engine = await started(bench)
    await walk_to(engine, "watch")
    await engine.run(engine.runbook.step("watch"))
    await engine.watch_tick(monitor.evaluate(T0))
    state = engine.state.steps["watch"]
    assert state.status is StepStatus.FAILED
    assert "payment_success_rate critical" in state.outcome


async def test_a_whole_run_completes_and_its_journal_verifies(bench: Bench) -> None:
    monitor = scripted_monitor()
    engine = await started(bench)
    await walk_to(engine, "watch")
    bench.clock.now = T0
    await engine.run(engine.runbook.step("watch"))
    await engine.watch_tick(replace(monitor.evaluate(T0), at=T0 + 601))
    await engine.run(engine.runbook.step("python"))
    assert engine.state.finished == "completed"
    assert engine.current is None
    assert verify(journal_path(bench.tmp)).ok


async def test_a_choice_is_required_recorded_and_fills_later_commands(bench: Bench) -> None:
    runbook = every_kind_runbook(bench.tmp)
    pick = replace(runbook.step("notify"), choose="backup")
    restore = replace(
        runbook.step("migrate"), command=CommandSpec(argv=("echo", "restoring", "{backup}"))
    )
    phases = (
        replace(runbook.phases[0], steps=(pick,)),
        replace(runbook.phases[1], steps=(restore,)),
    )
    engine = await started(bench, replace(runbook, phases=phases))
    with pytest.raises(RunError, match="choose a backup"):
        await engine.confirm(pick, "newest before the incident")
    await engine.confirm(pick, "newest before the incident", choice="lessay-db-full-20261129.dump")
    assert engine.state.steps["notify"].choice == "lessay-db-full-20261129.dump"
    assert engine.values()["backup"] == "lessay-db-full-20261129.dump"
    await engine.run(restore)
    assert engine.state.steps["migrate"].output == ["restoring lessay-db-full-20261129.dump"]


async def test_an_abandoned_run_is_finished_and_not_resumed(bench: Bench) -> None:
    engine = await started(bench)
    await engine.confirm(engine.runbook.step("notify"))
    with pytest.raises(RunError, match="written reason"):
        await engine.abort("  ")
    assert engine.state.finished is None
    await engine.abort("superseded by the 2.5.1 hotfix")
    assert engine.state.finished == "aborted" and not engine.state.unfinished
    finished = [e for e in engine.deps.journal.events(engine.state.id) if e.kind == "run.finished"]
    assert finished[0].data == {"outcome": "aborted", "reason": "superseded by the 2.5.1 hotfix"}
    other = RunEngine.load(engine.runbook, engine.state.id, bench.fresh_deps(OPERATOR))
    with pytest.raises(RunError, match="aborted; nothing to resume"):
        await other.attach()
