"""A second console, headless: a process that holds a runbook run, for the tests to kill.

    python run_driver.py STATE_DIR OPERATOR RUNBOOK_ID MODE [NAME=VALUE ...]

Starts a run of RUNBOOK_ID (a built-in, or one of the user's runbook files, found
as the console finds them) and prints `run RUN_ID`. Then, by MODE:

- `walk`: confirms each manual step (note "done by the driver") and runs each
  other step, printing `step STEP_ID` before and `done STEP_ID STATUS` after; a
  command that hangs keeps the driver in the middle of its step (to be killed).
- `hold`: reads commands from stdin, one a line, and answers one line each:
  `confirm STEP_ID [NOTE]` confirms a manual step (`ok STEP_ID`, or the class of
  the refusal and its message, `LostHold: ...`); `release` releases the run
  (`released`); end of input ends the driver.

Only the package is imported (no test helpers): it runs as a plain subprocess.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from lessay_console.config import Config
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path
from lessay_console.runbooks.engine import RunDeps, RunEngine, RunError
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.state import STREAM_PREFIX


def say(line: str) -> None:
    print(line, flush=True)


async def walk(engine: RunEngine) -> None:
    while (step := engine.current) is not None:
        say(f"step {step.id}")
        if step.kind == "manual":
            await engine.confirm(step, "done by the driver")
        else:
            await engine.run(step)
        say(f"done {step.id} {engine.state.steps[step.id].status.value}")
    say(f"finished {engine.state.finished}")


async def hold(engine: RunEngine) -> None:
    while line := await asyncio.to_thread(sys.stdin.readline):
        command, _, rest = line.strip().partition(" ")
        try:
            if command == "confirm":
                step_id, _, note = rest.partition(" ")
                await engine.confirm(engine.runbook.step(step_id), note)
                say(f"ok {step_id}")
            elif command == "release":
                await engine.release()
                say("released")
            else:
                say(f"unknown command {command!r}")
        except RunError as error:
            say(f"{type(error).__name__}: {error}")


async def main(argv: list[str]) -> int:
    state_dir, operator_name, runbook_id, mode, *pairs = argv
    params = dict(pair.split("=", 1) for pair in pairs)
    config = Config()
    runbooks, problems = load_runbooks(config)
    if problems:
        say("problems: " + "; ".join(str(p) for p in problems))
        return 2
    runbook = next(r for r in runbooks if r.id == runbook_id)
    operator = Operator(operator_name, socket.gethostname(), None)
    with Journal.open(journal_path(Path(state_dir)), operator) as journal:
        engine = await RunEngine.start(runbook, params, RunDeps(config, journal, operator))
        say(f"run {engine.state.id.removeprefix(STREAM_PREFIX)}")
        await (walk(engine) if mode == "walk" else hold(engine))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
