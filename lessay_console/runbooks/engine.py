"""Running a runbook: every transition a journal event, appended before anyone shows it.

A `RunEngine` is one console session's handle on one run. It holds the run
(a `run.held` event) or refuses when another live console does; it checks
before each transition that it still holds it (another console may take
over, which is recorded). It never re-runs a step by itself: a step found
started but not finished is INTERRUPTED until the operator, having checked,
says whether it was done (`resolve_interrupted`).

Step execution lives in `runbooks.steps` (checks, commands, rollouts) and
`runbooks.watching` (watch steps and the gaps while no console watched).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.config import Config
from lessay_console.identity import Operator
from lessay_console.runbooks.model import Runbook, Step
from lessay_console.runbooks.state import STREAM_PREFIX, Holder, RunState, StepStatus

if TYPE_CHECKING:
    from lessay_console.journal.store import Event, Journal
    from lessay_console.monitor import Snapshot


class RunError(Exception):
    """An intent the run cannot take now; the message says why and what to do."""


class RunHeld(RunError):
    def __init__(self, holder: Holder) -> None:
        since = time.strftime("%H:%M", time.localtime(holder.since))
        super().__init__(
            f"held by {holder.describe()} since {since}; "
            "watch it read-only, or take it over (recorded)"
        )
        self.holder = holder


class LostHold(RunError):
    def __init__(self, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another console"
        super().__init__(f"{who} took this run over: this console now only watches it")
        self.holder = holder


@dataclass
class RunDeps:
    """What a run needs from its surroundings."""

    config: Config
    journal: Journal
    operator: Operator
    metrics: Callable[[], Awaitable[Snapshot]] | None = None
    clock: Callable[[], float] = time.time


def process_started(pid: int) -> float | None:
    """When `pid` started (to tell a live holder from a reused pid); None if it is gone."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # dead, merely not yet reaped
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def holder_alive(holder: Holder, here: str) -> bool:
    """A holder on this host is alive when its pid runs and started when it said. One on
    another host cannot be checked: it counts as alive (take over explicitly)."""
    if holder.host != here:
        return True
    started = process_started(holder.pid)
    if started is None:
        return False
    return holder.pid_started is None or abs(started - holder.pid_started) < 1.0


class RunEngine:
    def __init__(self, runbook: Runbook, state: RunState, deps: RunDeps, read_only: bool) -> None:
        self.runbook = runbook
        self.state = state
        self.deps = deps
        self.read_only = read_only or state.read_only or deps.config.read_only
        self.session = secrets.token_hex(6)
        self.last_seq = state.events[-1].seq if state.events else 0
        self.holding = False
        # watch bookkeeping of this session: what fired at the last snapshot, and the
        # end of each gap found on attaching
        self.watch_seen: dict[str, list[dict[str, Any]]] = {}
        self.gap_until: dict[str, float] = {}

    # -- making and attaching --------------------------------------------------
    @classmethod
    async def start(
        cls, runbook: Runbook, params: dict[str, str], deps: RunDeps, *, read_only: bool = False
    ) -> RunEngine:
        missing = [p.name for p in runbook.params if not params.get(p.name)]
        if missing:
            raise RunError("parameters missing: " + ", ".join(missing))
        journal = deps.journal
        stream = journal.new_stream_id(STREAM_PREFIX.rstrip("/"), at=deps.clock())
        first = await journal.append_async(
            stream,
            "run.started",
            {
                "runbook": runbook.id,
                "title": runbook.title,
                "digest": runbook.digest,
                "origin": runbook.origin,
                "params": params,
                "environment": deps.config.environment,
                "read_only": read_only or deps.config.read_only,
                # the outline, so that the record reads whole even if the file changes
                "outline": [
                    {"phase": phase.title, "id": step.id, "title": step.title, "kind": step.kind}
                    for phase in runbook.phases
                    for step in phase.steps
                ],
            },
            at=deps.clock(),
        )
        engine = cls(runbook, RunState.from_events(runbook, [first]), deps, read_only)
        await engine._hold(took_over_from=None)
        return engine

    @classmethod
    def load(cls, runbook: Runbook, run_id: str, deps: RunDeps) -> RunEngine:
        """The run as recorded, not held: to watch it, or to `attach` after."""
        events = deps.journal.events(run_id)
        if not events:
            raise RunError(f"no run {run_id!r} in the journal")
        state = RunState.from_events(runbook, events)
        return cls(runbook, state, deps, read_only=False)

    async def attach(self, *, take_over: bool = False) -> None:
        """Hold the run in this session. A live holder elsewhere: RunHeld, unless `take_over`.
        Steps left started by a session that is gone become INTERRUPTED (recorded)."""
        self.refresh()
        if self.state.finished:
            raise RunError(f"this run is {self.state.finished}; nothing to resume")
        holder = self.state.holder
        here = self.deps.operator.host
        live = holder is not None and not self.state.released and holder_alive(holder, here)
        if live and holder.session != self.session and not take_over:
            raise RunHeld(holder)
        await self._hold(took_over_from=holder if live else None)
        from lessay_console.runbooks.watching import resume_watches

        for step_state in self.state.open_steps():
            if step_state.session == self.session:
                continue
            step = self.runbook.step(step_state.id)
            if step.kind == "watch":
                continue  # a watch resumes; the time nobody watched is accounted for below
            await self.record("step.interrupted", {"step": step.id, "session": step_state.session})
        await resume_watches(self)

    async def _hold(self, took_over_from: Holder | None) -> None:
        data: dict[str, Any] = {
            "session": self.session,
            "pid": os.getpid(),
            "host": self.deps.operator.host,
            "pid_started": process_started(os.getpid()),
        }
        if took_over_from is not None:
            data["took_over_from"] = {
                "operator": took_over_from.operator,
                "host": took_over_from.host,
                "pid": took_over_from.pid,
                "since": took_over_from.since,
            }
        await self._append("run.held", data)
        self.holding = True

    async def release(self) -> None:
        """Leave the run for another console (at a clean exit)."""
        if self.holding and self._still_holder():
            await self._append("run.released", {"session": self.session})
        self.holding = False

    # -- journal ---------------------------------------------------------------
    def refresh(self) -> list[Event]:
        """Fold in events other consoles appended since this one last looked."""
        new = self.deps.journal.events(self.state.id, after=self.last_seq)
        for event in new:
            self.state.apply(event)
            self.last_seq = event.seq
        return new

    def _still_holder(self) -> bool:
        self.refresh()
        holder = self.state.holder
        return holder is not None and holder.session == self.session and not self.state.released

    async def record(self, kind: str, data: dict[str, Any]) -> Event:
        """Append one transition, as the holder; LostHold when another console took over."""
        if not self.holding:
            raise RunError("this console only watches this run")
        if not self._still_holder():
            self.holding = False
            raise LostHold(self.state.holder)
        return await self._append(kind, data)

    async def _append(self, kind: str, data: dict[str, Any]) -> Event:
        event = await self.deps.journal.append_async(
            self.state.id, kind, data, at=self.deps.clock()
        )
        self.refresh()
        return event

    # -- where the run is --------------------------------------------------------
    @property
    def current(self) -> Step | None:
        step_id = self.state.current(self.runbook)
        return None if step_id is None else self.runbook.step(step_id)

    def values(self, **extra: str) -> dict[str, str]:
        """What `{placeholders}` are filled with: parameters, choices made, the run's own."""
        chosen = {
            step.choose: self.state.steps[step.id].choice
            for step in self.runbook.steps
            if step.choose and self.state.steps[step.id].choice
        }
        return {
            **self.state.params,
            **chosen,
            "run_id": self.state.id.removeprefix(STREAM_PREFIX),
            "operator": self.deps.operator.name,
            **extra,
        }

    def _ensure_current(self, step: Step, *, allow: tuple[StepStatus, ...] = ()) -> None:
        status = self.state.steps[step.id].status
        if status in allow:
            return
        current = self.current
        if current is None or current.id != step.id:
            where = f"the current step is {current.title!r}" if current else "every step is done"
            raise RunError(f"{step.title!r} is not the step to do now: {where}")
        if status is StepStatus.INTERRUPTED:
            raise RunError(
                f"{step.title!r} was interrupted: check what it did, then record whether it "
                "was done (its outcome is unknown; it is never re-run by itself)"
            )
        if status is StepStatus.RUNNING:
            raise RunError(f"{step.title!r} is running")

    # -- intents -----------------------------------------------------------------
    async def confirm(self, step: Step, note: str = "", choice: str | None = None) -> None:
        """A manual step done, or a command step done by hand (its command not configured).
        A step that offers a choice needs one (`choice`)."""
        self._ensure_current(step, allow=(StepStatus.FAILED,))
        note = note.strip()
        if step.choose and not (choice or "").strip():
            raise RunError(f"{step.title!r}: choose a {step.choose} first (it is recorded)")
        if step.note == "required" and not note:
            raise RunError(f"{step.title!r} needs a note for the record before it is done")
        if step.kind not in ("manual", "command", "rollout") or (
            step.kind != "manual" and not self.by_hand(step)
        ):
            raise RunError(f"{step.title!r} is a {step.kind} step: run it")
        await self.record("step.started", {"step": step.id, "session": self.session})
        data: dict[str, Any] = {"step": step.id, "outcome": "confirmed", "note": note}
        if step.choose:
            data["choice"] = choice.strip()  # type: ignore[union-attr]  # checked above
            data["outcome"] = f"chose {step.choose} {data['choice']}"
        if step.kind != "manual":
            data["by_hand"] = True
            data["outcome"] = "done by hand"
        await self.record("step.completed", data)
        await self.finish_if_done()

    def by_hand(self, step: Step) -> str | None:
        """Why a command or rollout step is done by hand (its site command is not
        configured), or None when the console runs it."""
        from lessay_console.runbooks.resolve import resolve_command

        spec = step.command if step.kind == "command" else step.rollout and step.rollout.command
        if spec is None:
            return None
        resolved = resolve_command(spec, self.deps.config, self.values(percent="0"))
        return resolved.manual_reason

    async def run(self, step: Step, *, emit: Callable[[str], None] | None = None) -> None:
        """Run a check, command, watch or rollout step (the next stage of a rollout)."""
        from lessay_console.runbooks import steps, watching

        self._ensure_current(step, allow=(StepStatus.FAILED,))
        if step.kind == "check":
            await steps.run_checks_step(self, step)
        elif step.kind == "command":
            await steps.run_command_step(self, step, emit)
        elif step.kind == "rollout":
            await steps.run_rollout_stage(self, step, emit)
        elif step.kind == "watch":
            await watching.start_watch(self, step)
        else:
            raise RunError(f"{step.title!r} is a manual step: confirm it when done")
        await self.finish_if_done()

    async def override(self, step: Step, reason: str) -> None:
        """Go past a failed step, with a written reason."""
        if self.state.steps[step.id].status is not StepStatus.FAILED:
            raise RunError(f"only a failed step can be overridden; {step.title!r} did not fail")
        if not reason.strip():
            raise RunError("an override needs a written reason")
        await self.record("step.overridden", {"step": step.id, "reason": reason.strip()})
        await self.finish_if_done()

    async def skip(self, step: Step, reason: str) -> None:
        self._ensure_current(step, allow=(StepStatus.FAILED,))
        if not reason.strip():
            raise RunError("skipping a step needs a written reason")
        await self.record("step.skipped", {"step": step.id, "reason": reason.strip()})
        await self.finish_if_done()

    async def resolve_interrupted(self, step: Step, done: bool, note: str) -> None:
        """The operator's verdict on an interrupted step, after checking what it did."""
        state = self.state.steps[step.id]
        if state.status is not StepStatus.INTERRUPTED:
            raise RunError(f"{step.title!r} is not interrupted")
        if not note.strip():
            raise RunError("say how you checked (a note is recorded with the decision)")
        if step.kind == "rollout" and state.stage_running is not None:
            stage = {"step": step.id, "percent": state.stage_running}
            await self.record("rollout.stage", {**stage, "state": "done" if done else "failed"})
            all_done = (
                done
                and step.rollout is not None
                and (len(self.state.steps[step.id].stages_done) == len(step.rollout.stages))
            )
            await self.record(
                "step.resolved", {"step": step.id, "done": all_done, "note": note.strip()}
            )
        else:
            await self.record(
                "step.resolved", {"step": step.id, "done": done, "note": note.strip()}
            )
        await self.finish_if_done()

    async def note(self, text: str, step: Step | None = None) -> None:
        data: dict[str, Any] = {"text": text}
        if step is not None:
            data["step"] = step.id
        await self.record("note", data)

    async def abort(self, reason: str) -> None:
        if not reason.strip():
            raise RunError("aborting a run needs a written reason")
        await self.record("run.finished", {"outcome": "aborted", "reason": reason.strip()})

    async def finish_if_done(self) -> None:
        if self.state.finished is None and self.current is None:
            await self.record("run.finished", {"outcome": "completed"})

    async def watch_tick(self, snapshot: Snapshot) -> None:
        """Called with each new snapshot while a watch step runs here."""
        from lessay_console.runbooks.watching import observe

        await observe(self, snapshot)
