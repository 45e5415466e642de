"""An incident survives the console being killed (`kill -9`) in the middle of the wizard.

Every event appended before the kill is on disk, intact, with the chain
verifying; `incident export` reads it back. The command still hanging when the
console died runs in a session of its own and outlives it: the test ends it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lessay_console.journal import journal_path, verify
from tests.helpers import console_env, wait_until
from tests.wizard_support import (
    command_check,
    console_in_pty,
    demo_data_dir,
    diagnose_last_symptom,
    journal_events,
    kinds,
    toml_string,
    write_user_symptom,
)

pytestmark = pytest.mark.pty

CONSOLE = [sys.executable, "-m", "lessay_console"]
OPERATOR = "dana"
TOKEN_VAR = "WIZARD_KILL_TEST_TOKEN"
FAST = ["fast-echo", "fast-printf", "fast-log"]
HANG_ARGV = ["sleep", "300"]
CSI = re.compile(r"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]")


def interrupted_symptom(log: Path) -> str:
    symptom = "interrupted"
    return (
        f"""
[symptom.{symptom}]
title = "Interrupted (test)"
description = "Three quick checks and one that hangs."
escalation = "Senior Engineer"

"""
        + command_check("fast-echo", "Echo", ["echo", "echo-was-here"], symptom)
        + command_check("fast-printf", "Printf", ["printf", "printf-%s\\n", "too"], symptom)
        + f"""
[[symptom.{symptom}.check]]
id = "fast-log"
kind = "logs"
file = {toml_string(str(log))}
since = "1h"
title = "Service log"

"""
        + command_check("hang", "Hangs", HANG_ARGV, symptom, timeout="600s")
        + f"""
[[symptom.{symptom}.resolution]]
title = "Wait"
steps = ["Wait."]
"""
    )


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (an orphan is reaped by init, if init reaps)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def hung_children(console: psutil.Process) -> list[psutil.Process]:
    return [p for p in console.children(recursive=True) if p.cmdline() == HANG_ARGV]


def marked(token: str) -> list[psutil.Process]:
    """Live processes whose environment carries the token (inherited from the console)."""
    found = []
    for process in psutil.process_iter(["environ"]):
        environ = process.info["environ"] or {}
        if environ.get(TOKEN_VAR) == token and process.pid != os.getpid() and alive(process):
            found.append(process)
    return found


@pytest.fixture
def token() -> Iterator[str]:
    """A mark for the console's environment, which every command it starts inherits.

    Whatever still carries it at the end is killed with its process group: the
    hanging command runs in a session of its own and outlives a killed console.
    """
    token = secrets.token_hex(8)
    yield token
    for process in marked(token):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            group = os.getpgid(process.pid)
            if group == os.getpgrp():  # never our own group
                process.kill()
            else:
                os.killpg(group, signal.SIGKILL)
    wait_until(lambda: not marked(token), message="the console's leftovers gone")


def test_kill_9_mid_wizard_leaves_every_recorded_event_intact(tmp_path: Path, token: str) -> None:
    state = tmp_path / "state"
    log = tmp_path / "service.log"
    log.write_text("ERROR payment provider timed out\nINFO retried\n")
    write_user_symptom("interrupted", interrupted_symptom(log))
    with console_in_pty(state, OPERATOR, env={TOKEN_VAR: token}) as process:
        data_dir = wait_until(lambda: demo_data_dir(state), message="the demo's data dir")
        diagnose_last_symptom(process, "Interrupted (test)")
        # the quick results are on screen and recorded; the hanging one still runs
        process.wait_for(lambda screen: "Checks 3/4 running" in screen, timeout=20)

        def recorded() -> list:
            events = journal_events(state)
            return events if kinds(events).count("check.result") == len(FAST) else []

        events = wait_until(recorded, timeout=10, message="the quick results journaled")
        console = psutil.Process(process.process.pid)
        wait_until(lambda: hung_children(console), message="the hanging command")
        screen = CSI.sub("", process.text())  # the text, without colours and cursor moves

        process.process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
        assert isinstance(data_dir, Path) and data_dir.exists()  # left behind (removed on exit)

    after = journal_events(state)
    assert after == events  # nothing lost, nothing half-written
    assert kinds(after) == ["incident.opened", "checks.started"] + ["check.result"] * 3
    assert {e.operator for e in after} == {OPERATOR}
    stream = after[0].stream
    assert {e.stream for e in after} == {stream}
    assert after[0].data["symptom"] == "interrupted"
    assert after[1].data["checks"] == [*FAST, "hang"]
    results = {e.data["result"]["id"]: e.data["result"] for e in after[2:]}
    assert set(results) == set(FAST)
    assert results["fast-echo"]["summary"] == "exit 0: echo-was-here"
    assert results["fast-printf"]["summary"] == "exit 0: printf-too"
    assert results["fast-log"]["status"] in {"warn", "fail"}
    assert "payment provider timed out" in "\n".join(results["fast-log"]["detail"])
    # what was recorded is what the screen showed (a row is cut at the terminal's width)
    for result in results.values():
        row = f"{result['status'].upper():<7} {result['title']}  {result['summary']}"
        assert row[:100] in screen
    report = verify(journal_path(state))
    assert report.ok, report

    number = stream.removeprefix("incident/")
    exported = subprocess.run(
        [*CONSOLE, "--state-dir", str(state), "incident", "export", number, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        env=console_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    incident = json.loads(exported.stdout)
    assert incident["incident"] == stream
    assert incident["closed"] is None
    assert [(e["seq"], e["kind"], e["hash"], e["data"]) for e in incident["events"]] == [
        (e.seq, e.kind, e.hash, e.data) for e in after
    ]
    assert {r["id"] for r in incident["results"]} == set(FAST)
