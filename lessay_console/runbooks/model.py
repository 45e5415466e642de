"""What a runbook is: parameters asked at start, phases of steps, each step of one kind.

Runbooks are TOML files (the format is in the README, "Runbook files"); the
built-ins follow the maintenance guide's sections 3 and 4.2 word for word in
their step titles. This module holds only the validated shape; `loader`
reads files into it and `engine` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lessay_console.checks.model import CheckSpec

StepKind = Literal["manual", "check", "command", "watch", "rollout"]
NoteRule = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class RunbookParam:
    """Asked when a run starts; its value fills `{name}` in commands and texts."""

    name: str
    prompt: str
    default: str | None = None
    pattern: str | None = None  # a full-match regular expression the value must satisfy
    help: str = ""


@dataclass(frozen=True)
class CommandSpec:
    """A command a step runs: argv (with `{param}` placeholders) or a named site command.

    `named` refers to `[commands] NAME = [argv...]` in the configuration, so that a
    built-in runbook says "deploy" and each site says how it deploys. When the
    name is not configured the step is done by hand: the engine shows what to do
    and asks for confirmation (recorded as such).
    """

    argv: tuple[str, ...] = ()
    named: str | None = None
    dangerous: bool = False
    timeout: float = 600.0
    expect_exit: int = 0
    output_limit: int = 64 * 1024


@dataclass(frozen=True)
class WatchSpec:
    """Observe alert states for a duration ("Monitor for 24 hours")."""

    duration: float
    alerts: tuple[str, ...] = ()  # metrics whose alerts count; () = every metric
    fail_on: Literal["warning", "critical"] = "critical"


@dataclass(frozen=True)
class RolloutSpec:
    """Stages of a gradual rollout: a command and a verification per stage."""

    stages: tuple[float, ...]  # cumulative percentages, ascending, ending at 100 usually
    command: CommandSpec  # `{percent}` is the stage's percentage
    verify: tuple[CheckSpec, ...] = ()
    verify_within: float = 120.0  # verification is retried until it passes or this runs out
    rollback: CommandSpec | None = None


@dataclass(frozen=True)
class Step:
    id: str  # unique within the runbook; events name steps by it
    title: str  # the guide's words
    kind: StepKind
    instructions: str = ""
    note: NoteRule = "optional"
    # a manual step where the operator picks one of a list, e.g. "backup": the
    # candidates come from the backup catalog; the choice fills `{backup}` later on
    choose: str | None = None
    checks: tuple[CheckSpec, ...] = ()  # kind "check"
    command: CommandSpec | None = None  # kind "command"
    watch: WatchSpec | None = None  # kind "watch"
    rollout: RolloutSpec | None = None  # kind "rollout"


@dataclass(frozen=True)
class Phase:
    title: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    description: str
    phases: tuple[Phase, ...]
    params: tuple[RunbookParam, ...] = ()
    guide: str = ""  # the guide section it follows, e.g. "3.2"
    origin: str = "built-in"  # or the file it came from
    digest: str = ""  # sha256 of the file's text: a run records which definition it followed
    steps: tuple[Step, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(s for p in self.phases for s in p.steps))

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def phase_of(self, step_id: str) -> Phase:
        return next(p for p in self.phases if any(s.id == step_id for s in p.steps))
