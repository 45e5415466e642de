"""Executing check, command and rollout steps; each fact journaled as it happens.

A command's output is journaled in chunks while it runs (at most a second
behind), so that a console killed mid-command leaves what the command had
printed in the record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from lessay_console.checks.model import CheckContext, CheckResult, CheckStatus
from lessay_console.checks.runner import run_checks
from lessay_console.runbooks.engine import RunEngine, RunError
from lessay_console.runbooks.model import CommandSpec, Step
from lessay_console.runbooks.resolve import resolve_command

BLOCKING = (CheckStatus.FAIL, CheckStatus.ERROR)
FLUSH_SECONDS = 1.0
FLUSH_BYTES = 8 * 1024
VERIFY_RETRY = 5.0  # seconds between verifications of a rollout stage


def check_context(engine: RunEngine) -> CheckContext:
    deps = engine.deps
    return CheckContext(
        config=deps.config, metrics=deps.metrics, read_only=engine.read_only, clock=deps.clock
    )


def verdict_of(results: list[CheckResult]) -> tuple[bool, str]:
    """Whether the checks let the run go on, and a one-line account."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    account = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no checks"
    failing = [r for r in results if r.status in BLOCKING]
    if failing:
        return False, f"{failing[0].title}: {failing[0].summary} ({account})"
    return True, f"passed ({account})"


async def run_checks_step(engine: RunEngine, step: Step) -> None:
    await engine.record("step.started", {"step": step.id, "session": engine.session})
    results = []
    async for result in run_checks(step.checks, check_context(engine)):
        await engine.record("step.check", {"step": step.id, "result": result.to_json()})
        results.append(result)
    passed, account = verdict_of(results)
    if passed:
        await engine.record("step.completed", {"step": step.id, "outcome": account})
    else:
        await engine.record("step.failed", {"step": step.id, "reason": account})


class OutputJournal:
    """Lines of a running command: shown at once, journaled in chunks."""

    def __init__(self, engine: RunEngine, step: Step, show: Callable[[str], None] | None) -> None:
        self.engine, self.step, self.show = engine, step, show
        self.pending: list[str] = []
        self.size = 0
        self.last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    def line(self, text: str) -> None:
        if self.show is not None:
            self.show(text)
        self.pending.append(text)
        self.size += len(text)
        due = self.size >= FLUSH_BYTES or time.monotonic() - self.last_flush >= FLUSH_SECONDS
        if due and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        if not self.pending:
            return
        text = "\n".join(self.pending)
        self.pending, self.size, self.last_flush = [], 0, time.monotonic()
        await self.engine.record("step.output", {"step": self.step.id, "text": text})

    async def ticker(self) -> None:
        """Flush on time even when the command prints nothing more for a while."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self._flushing is None or self._flushing.done():
                await self.flush()

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
        await self.flush()


async def execute(
    engine: RunEngine,
    step: Step,
    spec: CommandSpec,
    values: dict[str, str],
    emit: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Run a resolved command with its output journaled; the fields for the record."""
    from lessay_console.checks.command import run_command

    resolved = resolve_command(spec, engine.deps.config, values)
    if resolved.argv is None:
        raise RunError(f"{step.title!r} is done by hand: {resolved.manual_reason}")
    if engine.read_only:
        raise RunError("read-only: nothing is executed (skip the step with a reason to go on)")
    output = OutputJournal(engine, step, emit)
    ticker = asyncio.create_task(output.ticker())
    try:
        result = await run_command(
            list(resolved.argv),
            timeout=spec.timeout,
            emit=output.line,
            output_limit=spec.output_limit,
        )
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await output.close()
    fields = result.journal_fields(spec.expect_exit)
    fields.pop("output", None)  # journaled as it came, in step.output events
    return {"argv": list(resolved.argv), **fields}


def refuse_unrunnable(
    engine: RunEngine, step: Step, spec: CommandSpec, values: dict[str, str]
) -> None:
    """A command that will not run (done by hand, or read-only) is refused before the step
    is recorded as started: nothing happened, so nothing is recorded."""
    resolved = resolve_command(spec, engine.deps.config, values)
    if resolved.argv is None:
        raise RunError(f"{step.title!r} is done by hand: {resolved.manual_reason}")
    if engine.read_only:
        raise RunError("read-only: nothing is executed (skip the step with a reason to go on)")


async def run_command_step(
    engine: RunEngine, step: Step, emit: Callable[[str], None] | None
) -> None:
    if step.command is None:
        raise RunError(f"{step.title!r} has no command")
    refuse_unrunnable(engine, step, step.command, engine.values())
    await engine.record("step.started", {"step": step.id, "session": engine.session})
    try:
        fields = await execute(engine, step, step.command, engine.values(), emit)
    except RunError as error:
        await engine.record("step.failed", {"step": step.id, "reason": str(error)})
        raise
    ok = fields["status"] == CheckStatus.PASS.value
    kind = "step.completed" if ok else "step.failed"
    key = "outcome" if ok else "reason"
    await engine.record(kind, {"step": step.id, key: fields["summary"], **_without(fields)})


def _without(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in ("summary", "status")}


async def run_rollout_stage(
    engine: RunEngine, step: Step, emit: Callable[[str], None] | None
) -> None:
    """The next stage: its command, then its verification retried until it passes or its
    time runs out. The step is done after the last stage."""
    rollout = step.rollout
    if rollout is None:
        raise RunError(f"{step.title!r} has no rollout")
    state = engine.state.steps[step.id]
    remaining = [p for p in rollout.stages if p not in state.stages_done]
    if not remaining:
        raise RunError(f"{step.title!r}: every stage is done")
    percent = remaining[0]
    stage: dict[str, Any] = {"step": step.id, "percent": percent}
    shown = f"{percent:g}"
    refuse_unrunnable(engine, step, rollout.command, engine.values(percent=shown))
    await engine.record("step.started", {"step": step.id, "session": engine.session})
    await engine.record("rollout.stage", {**stage, "state": "started"})
    try:
        fields = await execute(engine, step, rollout.command, engine.values(percent=shown), emit)
    except RunError as error:
        await engine.record("rollout.stage", {**stage, "state": "failed", "reason": str(error)})
        await engine.record("step.failed", {"step": step.id, "reason": str(error)})
        raise
    await engine.record("step.output", {"step": step.id, "text": f"-> {fields['summary']}"})
    stage["argv"], stage["exit_code"] = fields["argv"], fields["exit_code"]
    if fields["status"] != CheckStatus.PASS.value:
        reason = f"stage {shown}%: {fields['summary']}"
        await engine.record("rollout.stage", {**stage, "state": "failed", "reason": reason})
        await engine.record("step.failed", {"step": step.id, "reason": reason})
        return
    passed, account = await _verify(engine, step, rollout.verify_within)
    if not passed:
        reason = f"stage {shown}% not verified: {account}"
        await engine.record("rollout.stage", {**stage, "state": "failed", "reason": reason})
        await engine.record("step.failed", {"step": step.id, "reason": reason})
        return
    await engine.record("rollout.stage", {**stage, "state": "done"})
    if len(engine.state.steps[step.id].stages_done) == len(rollout.stages):
        await engine.record("step.completed", {"step": step.id, "outcome": f"at {shown}%"})
    else:
        # between stages the step waits for the operator: not running, not failed
        await engine.record("step.paused", {"step": step.id, "outcome": f"at {shown}%: {account}"})


async def _verify(engine: RunEngine, step: Step, within: float) -> tuple[bool, str]:
    if step.rollout is None or not step.rollout.verify:
        return True, "no verification defined"
    deadline = time.monotonic() + within
    while True:
        results = []
        async for result in run_checks(step.rollout.verify, check_context(engine)):
            results.append(result)
        passed, account = verdict_of(results)
        if passed or time.monotonic() + VERIFY_RETRY > deadline:
            for result in results:
                await engine.record("step.check", {"step": step.id, "result": result.to_json()})
            return passed, account
        await asyncio.sleep(VERIFY_RETRY)


async def abort_rollout(
    engine: RunEngine, step: Step, reason: str, emit: Callable[[str], None] | None
) -> None:
    """Stop a rollout and run its rollback command; the step ends failed, with why."""
    rollout = step.rollout
    if rollout is None or rollout.rollback is None:
        raise RunError(f"{step.title!r} has no rollback command")
    if not reason.strip():
        raise RunError("aborting a rollout needs a written reason")
    await engine.record("note", {"step": step.id, "text": f"rollout aborted: {reason.strip()}"})
    reached = engine.state.steps[step.id].stages_done
    percent = f"{reached[-1]:g}" if reached else "0"  # {percent}: the stage the rollout reached
    fields = await execute(engine, step, rollout.rollback, engine.values(percent=percent), emit)
    await engine.record(
        "rollout.rolled_back",
        {"step": step.id, "exit_code": fields["exit_code"], "summary": fields["summary"]},
    )
    await engine.record(
        "step.failed",
        {"step": step.id, "reason": f"aborted ({reason.strip()}); rollback: {fields['summary']}"},
    )
