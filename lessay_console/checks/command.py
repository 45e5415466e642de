"""The `command` check: run an argv (never through a shell) and judge its exit code.

The running itself (`run_command`, its `CommandResult`) is in `processes`; it is
re-exported here, where the runbook engine's command steps import it from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lessay_console.checks.model import CheckContext, CheckKind, Outcome, Param
from lessay_console.checks.processes import DEFAULT_OUTPUT_LIMIT, CommandResult, run_command

__all__ = ["COMMAND", "KINDS", "PARAMS", "CommandResult", "check_command", "run_command"]

PARAMS = (
    Param("argv", "argv", required=True, help="program and arguments; no shell"),
    Param("expect_exit", "number", 0, help="the exit code that means success"),
    Param("cwd", "path", help="working directory"),
    Param("output_limit", "number", DEFAULT_OUTPUT_LIMIT, help="bytes of output kept"),
)


async def check_command(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    p = COMMAND.with_defaults(params)
    argv = p.get("argv")
    if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
        return Outcome.errored('argv must be a non-empty list such as ["systemctl", "status"]')
    result = await run_command(
        argv, timeout=None, emit=ctx.emit, output_limit=int(p["output_limit"]), cwd=p["cwd"]
    )
    status, summary = result.verdict(int(p["expect_exit"]))
    if result.not_started is not None:
        return Outcome(status, summary, (), {"argv": list(argv)})
    data = {
        "argv": list(result.argv),
        "exit_code": result.returncode,
        "signal": result.signal_name,
        "output": result.output,
        "truncated_bytes": result.truncated_bytes,
        "elapsed": round(result.elapsed, 3),
    }
    return Outcome(status, summary, tuple(result.output.splitlines()), data)


COMMAND = CheckKind(
    name="command",
    title="Command",
    params=PARAMS,
    timeout=60.0,
    run=check_command,
    executes=True,
)

KINDS: tuple[CheckKind, ...] = (COMMAND,)
