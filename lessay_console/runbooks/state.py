"""A run's state, derived from its journal events alone (DESIGN section 8).

Nothing about a run is kept anywhere else: a console that starts, a second
console watching, `runbook runs` and the export all read the same events and
get the same state. Event kinds of a run stream ("run/…"):

    run.started       {runbook, title, digest, origin, params, environment, read_only,
                       outline: [{phase, id, title, kind}]}
    run.held          {session, pid, host, pid_started, took_over_from?}
    run.released      {session}
    step.started      {step, session, attempt}
    step.output       {step, text}                      command output, in chunks as it came
    step.check        {step, result}                    one check's result
    step.completed    {step, outcome, note?, choice?, exit_code?, argv?, by_hand?}
    step.failed       {step, reason, exit_code?}
    step.overridden   {step, reason}
    step.skipped      {step, reason}
    step.paused       {step, outcome}                   a rollout between stages
    step.interrupted  {step, session}                   found started, never finished
    step.resolved     {step, done, note}                the operator's verdict after one
    note              {step?, text}
    watch.started     {step, until}
    watch.observed    {step, firing: [...], breach}
    watch.checkpoint  {step}
    watch.gap         {step, since, until, source, firing, note}
    rollout.stage     {step, percent, state: started|done|failed, reason?}
    rollout.rolled_back {step, exit_code, summary}
    run.finished      {outcome: completed|aborted, reason?}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckResult

if TYPE_CHECKING:
    from lessay_console.journal.store import Event
    from lessay_console.runbooks.model import Runbook

STREAM_PREFIX = "run/"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # started, never finished: outcome unknown, never re-run by itself
    FAILED = "failed"  # blocks until re-run, overridden or skipped with a reason
    DONE = "done"
    OVERRIDDEN = "overridden"  # failed, and the operator went on with a written reason
    SKIPPED = "skipped"

    @property
    def settled(self) -> bool:
        """The run may go past a step in this state."""
        return self in (StepStatus.DONE, StepStatus.OVERRIDDEN, StepStatus.SKIPPED)


@dataclass(frozen=True)
class Holder:
    operator: str
    host: str
    pid: int
    pid_started: float | None
    session: str
    since: float

    def describe(self) -> str:
        return f"{self.operator} on {self.host} (pid {self.pid})"


@dataclass
class StepState:
    id: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    by: str | None = None  # who finished it (or started it, while running)
    outcome: str = ""  # the recorded result: "done", "passed", "exit 0", a failure's reason
    note: str = ""
    choice: str | None = None  # what the operator chose, for a step that offers a choice
    session: str | None = None  # the console session that started the current attempt
    checks: dict[str, CheckResult] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # watch steps
    watch_until: float | None = None
    watch_breach: str | None = None
    watch_last_seen: float | None = None  # the last time a console was watching
    gaps_open: bool = False
    # rollout steps: stages done, in order
    stages_done: list[float] = field(default_factory=list)
    stage_running: float | None = None


@dataclass
class RunState:
    id: str
    runbook_id: str
    title: str
    digest: str
    params: dict[str, str]
    environment: str
    read_only: bool
    started_at: float
    started_by: str
    steps: dict[str, StepState]
    holder: Holder | None = None
    released: bool = False
    finished: str | None = None  # "completed" or "aborted"
    finished_at: float | None = None
    notes: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def from_events(cls, runbook: Runbook, events: list[Event]) -> RunState:
        if not events or events[0].kind != "run.started":
            raise ValueError("a run's stream starts with run.started")
        first = events[0]
        data = first.data
        state = cls(
            id=first.stream,
            runbook_id=data["runbook"],
            title=data["title"],
            digest=data.get("digest", ""),
            params=dict(data.get("params", {})),
            environment=data.get("environment", ""),
            read_only=bool(data.get("read_only", False)),
            started_at=first.at,
            started_by=first.operator,
            steps={s.id: StepState(s.id) for s in runbook.steps},
        )
        for event in events:
            state.apply(event)
        return state

    # -- reading -----------------------------------------------------------
    def current(self, runbook: Runbook) -> str | None:
        """The first step not settled: where the run resumes. None when all are."""
        return next((s.id for s in runbook.steps if not self.steps[s.id].status.settled), None)

    @property
    def unfinished(self) -> bool:
        return self.finished is None

    def open_steps(self) -> list[StepState]:
        """Steps started and not ended (running here, or left by a console that stopped)."""
        return [s for s in self.steps.values() if s.status is StepStatus.RUNNING]

    def progress(self) -> tuple[int, int]:
        done = sum(1 for s in self.steps.values() if s.status.settled)
        return done, len(self.steps)

    # -- folding events ------------------------------------------------------
    def apply(self, event: Event) -> None:
        self.events.append(event)
        data: dict[str, Any] = event.data
        kind = event.kind
        if kind == "run.held":
            self.holder = Holder(
                event.operator,
                event.host,
                int(data.get("pid", event.pid)),
                data.get("pid_started"),
                data["session"],
                event.at,
            )
            self.released = False
        elif kind == "run.released":
            if self.holder is not None and data.get("session") == self.holder.session:
                self.released = True
        elif kind == "run.finished":
            self.finished, self.finished_at = data.get("outcome", "completed"), event.at
        elif kind == "note":
            self.notes.append(event)
        step = self.steps.get(data["step"]) if isinstance(data.get("step"), str) else None
        if step is not None:
            step.events.append(event)
            if kind.startswith("step."):
                _fold_step(step, event)
            elif kind.startswith("watch."):
                _fold_watch(step, event)
            elif kind == "rollout.stage":
                _fold_stage(step, event)


ENDINGS = {
    "step.completed": StepStatus.DONE,
    "step.failed": StepStatus.FAILED,
    "step.overridden": StepStatus.OVERRIDDEN,
    "step.skipped": StepStatus.SKIPPED,
}


def _fold_step(step: StepState, event: Event) -> None:
    data, kind = event.data, event.kind
    if kind == "step.started":
        step.status, step.started_at, step.ended_at = StepStatus.RUNNING, event.at, None
        step.attempts += 1
        step.by, step.session = event.operator, data.get("session")
        step.checks, step.output, step.outcome = {}, [], ""
    elif kind == "step.output":
        step.output.append(data.get("text", ""))
    elif kind == "step.check":
        result = CheckResult.from_json(data["result"])
        step.checks[result.id] = result
    elif kind in ENDINGS:
        step.status = ENDINGS[kind]
        step.ended_at, step.by = event.at, event.operator
        step.outcome = data.get("outcome") or data.get("reason") or ""
        if data.get("note"):
            step.note = data["note"]
        step.choice = data.get("choice")
        step.stage_running = None
    elif kind == "step.paused":
        step.status, step.outcome, step.ended_at = StepStatus.PENDING, data["outcome"], event.at
    elif kind == "step.interrupted":
        step.status = StepStatus.INTERRUPTED
    elif kind == "step.resolved":
        step.ended_at, step.by = event.at, event.operator
        step.note = data.get("note", "")
        step.stage_running = None
        if data.get("done"):
            step.status, step.outcome = StepStatus.DONE, "done (verified after interruption)"
        else:
            step.status, step.outcome = StepStatus.PENDING, "not done (after interruption)"


def _fold_watch(step: StepState, event: Event) -> None:
    data = event.data
    if event.kind == "watch.started":
        step.watch_until, step.watch_breach = data["until"], None
        step.watch_last_seen = event.at
        return
    step.watch_last_seen = data.get("until", event.at) if event.kind == "watch.gap" else event.at
    if data.get("breach"):
        step.watch_breach = data["breach"]


def _fold_stage(step: StepState, event: Event) -> None:
    percent, stage_state = float(event.data["percent"]), event.data["state"]
    if stage_state == "started":
        step.stage_running = percent
    else:
        step.stage_running = None
        if stage_state == "done":
            step.stages_done.append(percent)


def outline_runbook(events: list[Event]) -> Runbook:
    """The runbook as the run recorded it at its start: for a run whose file is gone."""
    from lessay_console.runbooks.model import Phase, Runbook, Step

    data = events[0].data
    phases: dict[str, list[Step]] = {}
    for item in data.get("outline", []):
        phases.setdefault(item["phase"], []).append(Step(item["id"], item["title"], item["kind"]))
    return Runbook(
        id=data["runbook"],
        title=data["title"],
        description="(as recorded when the run started)",
        phases=tuple(Phase(title, tuple(steps)) for title, steps in phases.items()),
        digest=data.get("digest", ""),
    )
