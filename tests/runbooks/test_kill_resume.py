"""Real process deaths in the middle of a run: `kill -9` and a closed terminal.

Whatever was recorded before the death is there after it, the chain verifies,
and the run resumes at the first step not done. A step found started and never
finished is INTERRUPTED: never re-run by itself, the operator decides.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from lessay_console.config import Config
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path, verify
from lessay_console.runbooks.engine import RunDeps, RunEngine, RunError, process_started
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.state import STREAM_PREFIX, StepStatus
from tests.helpers import wait_until
from tests.runbooks.driver_support import (
    HOST,
    Driver,
    alive,
    journal_events,
    kinds,
    toml_list,
    write_user_runbook,
)
from tests.wizard_support import console_in_pty

OPERATOR = "dana"


def hanging_runbook(gate: Path) -> str:
    """A manual step, a command that prints a line then hangs (unless `gate` exists), a last
    command."""
    script = 'echo started; [ -e "$1" ] || sleep 300; echo finished'
    return f"""
[runbook]
id = "kill-drill"
title = "Kill drill"
description = "A command that hangs, to kill its console in the middle of it."

[[step]]
id = "prepare"
title = "Prepare the host"
kind = "manual"

[[step]]
id = "long-command"
title = "Run the long command"
kind = "command"
argv = {toml_list(["sh", "-c", script, "sh", str(gate)])}
timeout = "10m"

[[step]]
id = "report"
title = "Report the result"
kind = "command"
argv = ["echo", "reported"]
"""


@pytest.fixture
def driver_cleanup() -> Iterator[list[Driver]]:
    drivers: list[Driver] = []
    yield drivers
    for driver in drivers:
        driver.close()  # and the command it left hanging, with its process group


async def test_kill_9_in_the_middle_of_a_command_step(
    tmp_path: Path, driver_cleanup: list[Driver]
) -> None:
    gate = tmp_path / "gate"
    write_user_runbook("kill-drill", hanging_runbook(gate))
    state = tmp_path / "state"
    driver = Driver(state, OPERATOR, "kill-drill", "walk")
    driver_cleanup.append(driver)
    run_id = driver.run_id()
    stream = STREAM_PREFIX + run_id
    driver.expect("step long-command")

    def output_recorded() -> list:
        events = journal_events(state, stream)
        said = [e for e in events if e.kind == "step.output" and "started" in e.data["text"]]
        return events if said else []

    before = wait_until(output_recorded, timeout=15, message="the command's first line journaled")
    hanging = driver.remember_descendants()
    assert any("sleep" in p.cmdline() for p in hanging), [p.cmdline() for p in hanging]
    assert driver.kill_9() == -signal.SIGKILL
    assert process_started(driver.pid) is None  # dead and reaped

    # everything recorded before the kill, as it was
    after = journal_events(state, stream)
    assert after == before
    assert kinds(after) == [
        "run.started",
        "run.held",
        "step.started",
        "step.completed",
        "step.started",
        "step.output",
    ]
    assert [e.data.get("step") for e in after[2:]] == ["prepare"] * 2 + ["long-command"] * 2
    assert {e.operator for e in after} == {OPERATOR}
    assert {e.pid for e in after} == {driver.pid}
    assert after[-1].data["text"] == "started"
    report = verify(journal_path(state))
    assert report.ok, report.render()
    # the command outlived the driver (its own session): nobody may run it again blindly
    assert any(alive(p) for p in hanging)

    # a console starts again: the holder is dead, so it holds the run without taking over
    config = Config()
    runbooks, problems = load_runbooks(config)
    assert problems == []
    runbook = next(r for r in runbooks if r.id == "kill-drill")
    erin = Operator("erin", HOST, None)
    with Journal.open(journal_path(state), erin) as journal:
        engine = RunEngine.load(runbook, stream, RunDeps(config, journal, erin))
        assert engine.state.holder is not None and engine.state.holder.pid == driver.pid
        assert not engine.state.released  # killed: it had no chance to release
        assert engine.state.steps["long-command"].status is StepStatus.RUNNING
        await engine.attach()
        new = journal.events(stream, after=after[-1].seq)
        assert kinds(new) == ["run.held", "step.interrupted"]
        assert "took_over_from" not in new[0].data
        assert new[0].operator == "erin"
        assert new[1].data == {"step": "long-command", "session": after[1].data["session"]}

        step = runbook.step("long-command")
        assert engine.state.steps["prepare"].status is StepStatus.DONE
        assert engine.state.steps["long-command"].status is StepStatus.INTERRUPTED
        assert engine.current == step  # the resume point
        with pytest.raises(RunError, match="interrupted"):
            await engine.run(step)
        assert kinds(journal.events(stream, after=new[-1].seq)) == []  # refused: nothing ran

        await engine.resolve_interrupted(step, False, "no 'finished' in its output: not done")
        assert engine.state.steps["long-command"].status is StepStatus.PENDING
        assert engine.state.steps["prepare"].status is StepStatus.DONE
        assert engine.current == step
        gate.touch()  # this time it does not hang
        await engine.run(step)
        long_state = engine.state.steps["long-command"]
        assert long_state.status is StepStatus.DONE
        assert long_state.attempts == 2 and long_state.by == "erin"
        assert long_state.output == ["started\nfinished"]
        await engine.run(runbook.step("report"))
        assert engine.state.finished == "completed"
        assert engine.state.steps["prepare"].by == OPERATOR  # done before the kill, kept
    resolved = [e for e in journal_events(state, stream) if e.kind == "step.resolved"]
    assert resolved[0].data == {
        "step": "long-command",
        "done": False,
        "note": "no 'finished' in its output: not done",
    }
    assert verify(journal_path(state)).ok


# -- a hang-up: the terminal of the real console closed --------------------------------------
CSI = re.compile(r"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def plain(text: str) -> str:
    return CSI.sub("", text)


@pytest.mark.pty
def test_closing_the_terminal_mid_upgrade_then_resuming(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stream: str | None = None

    def events() -> list:
        return journal_events(state, stream) if journal_path(state).exists() else []

    def recorded(kind: str, step: str, **data: object) -> None:
        def found() -> bool:
            return any(
                e.kind == kind
                and e.data.get("step") == step
                and all(e.data.get(k) == v for k, v in data.items())
                for e in events()
            )

        wait_until(found, timeout=30, message=f"{kind} of {step} {data or ''} journaled")

    with console_in_pty(state, OPERATOR) as console:

        def shows(text: str, timeout: float = 15.0) -> None:
            console.wait_for(lambda screen: text in plain(screen), timeout=timeout)

        def then_shows(text: str, since: int, timeout: float = 15.0) -> None:
            console.wait_for(lambda screen: text in plain(screen[since:]), timeout=timeout)

        console.send(b"b")
        shows("Runbooks: Enter starts one")
        mark = len(console.text())
        console.send(b"\x1b[B")  # down: Patch Management (3.1), then Version Upgrade (3.2)
        console.send(b"\r")
        then_shows("Start Version Upgrade", mark)
        mark = len(console.text())
        console.send(b"2.5.0\r")
        then_shows("Notify stakeholders of downtime window  (manual, pending)", mark)
        stream = _only_run(state)

        def confirm(step: str, note: str, next_title: str) -> None:
            mark = len(console.text())
            console.send(b"\r")
            then_shows("Note for the record", mark)
            console.send(note.encode() + b"\r")
            recorded("step.completed", step)
            then_shows(next_title, mark)

        def run(step: str, next_title: str, timeout: float = 30.0) -> None:
            mark = len(console.text())
            console.send(b"\r")
            recorded("step.completed", step)
            then_shows(next_title, mark, timeout)

        confirm(
            "notify-stakeholders",
            "announced on #status for 14:00-15:00",
            "Create database backup snapshot  (command, pending)",
        )
        run("create-backup-snapshot", "Document rollback procedure  (manual, pending)")
        confirm(
            "document-rollback",
            "redeploy 2.4.1 to 100%, restore the snapshot just taken",
            "Drain traffic from old version  (command, pending)",
        )
        run("drain-old-version", "Deploy new version to 10% of nodes  (rollout, pending)")
        run("deploy-canary", "Run migration scripts  (command, pending)")
        recorded("rollout.stage", "deploy-canary", percent=10, state="done")
        before = events()
        printed = "\n".join(e.data["text"] for e in before if e.kind == "step.output")
        assert "converged: 1/10 nodes serve 2.5.0" in printed  # the demo fleet moved
        pid = console.process.pid

        console.hang_up()
        assert console.wait(timeout=15) == 128 + signal.SIGHUP

    after = events()
    assert after[: len(before)] == before  # everything recorded is there
    assert kinds(after[len(before) :]) == ["run.released"]  # and a clean release
    held = [e for e in after if e.kind == "run.held"][-1]
    assert after[-1].data["session"] == held.data["session"] and held.pid == pid
    assert {e.operator for e in after} == {OPERATOR}
    assert verify(journal_path(state)).ok

    # the console again, on the same state dir
    with console_in_pty(state, OPERATOR) as console:
        console.wait_for(lambda screen: "Unfinished runs" in plain(screen), timeout=20)
        number = stream.removeprefix(STREAM_PREFIX)
        console.wait_for(lambda screen: number in plain(screen))  # the run, offered
        mark = len(console.text())
        console.send(b"\r")
        console.wait_for(
            lambda screen: "Run migration scripts  (command, pending)" in plain(screen[mark:])
        )
        text = plain(console.text()[mark:])
        assert "5/10 steps" in text and "held by you" in text
        assert "→ Run migration scripts" in text  # the step list's cursor: the next step
        resumed = events()[len(after) :]
        assert kinds(resumed) == ["run.held"]  # nothing was left running: nothing interrupted
        assert "took_over_from" not in resumed[0].data
        assert resumed[0].pid == console.process.pid
        console.send(b"q")
        assert console.wait(timeout=15) == 0
    assert kinds(events()[len(after) :]) == ["run.held", "run.released"]
    assert verify(journal_path(state)).ok


def _only_run(state: Path) -> str:
    streams = {e.stream for e in journal_events(state) if e.stream.startswith(STREAM_PREFIX)}
    assert len(streams) == 1, streams
    return streams.pop()
