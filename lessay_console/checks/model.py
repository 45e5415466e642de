"""What a check is, what it returns, and what it may use. See DESIGN section 7.

A check kind (`CheckKind`) is an async function with declared parameters and a
default timeout. A `CheckSpec` is one use of a kind, as a symptom or a runbook
step names it. Running a spec (`runner.run_check`) gives a `CheckResult`:
status, a one-line summary, detail lines, structured data and timing, with
every text redacted and sanitized.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from lessay_console.config import Config
from lessay_console.redaction import redact
from lessay_console.sanitize import printable

if TYPE_CHECKING:
    from lessay_console.monitor import Snapshot


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"  # the check ran and found the problem
    ERROR = "error"  # the check could not tell: cut at its timeout, a bug, bad output
    SKIPPED = "skipped"  # not configured, tool missing, read-only mode: never a pass

    @property
    def exit_code(self) -> int:
        """Nagios convention, as `status`: fail 2, warn 1, error 3, pass and skipped 0."""
        return {"fail": 2, "warn": 1, "error": 3}.get(self.value, 0)


def worst_exit_code(statuses: list[CheckStatus]) -> int:
    """Critical over warning over unknown over OK, as `status` orders them."""
    codes = {s.exit_code for s in statuses}
    for code in (2, 1, 3):
        if code in codes:
            return code
    return 0


@dataclass(frozen=True)
class Outcome:
    """What a check kind's function returns; the runner adds identity and timing."""

    status: CheckStatus
    summary: str
    detail: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, summary: str, detail: tuple[str, ...] = (), **data: Any) -> Outcome:
        return cls(CheckStatus.PASS, summary, tuple(detail), data)

    @classmethod
    def warned(cls, summary: str, detail: tuple[str, ...] = (), **data: Any) -> Outcome:
        return cls(CheckStatus.WARN, summary, tuple(detail), data)

    @classmethod
    def failed(cls, summary: str, detail: tuple[str, ...] = (), **data: Any) -> Outcome:
        return cls(CheckStatus.FAIL, summary, tuple(detail), data)

    @classmethod
    def errored(cls, summary: str, detail: tuple[str, ...] = (), **data: Any) -> Outcome:
        return cls(CheckStatus.ERROR, summary, tuple(detail), data)

    @classmethod
    def skipped(cls, reason: str, **data: Any) -> Outcome:
        return cls(CheckStatus.SKIPPED, reason, (), data)


@dataclass(frozen=True)
class CheckResult:
    """One run of one check, as shown, journaled and exported."""

    id: str  # the spec's id, unique within its symptom or step
    kind: str
    title: str
    status: CheckStatus
    summary: str
    detail: tuple[str, ...]
    data: Mapping[str, Any]
    started: float  # wall clock, seconds since the epoch
    elapsed: float  # seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "detail": list(self.detail),
            "data": dict(self.data),
            "started": self.started,
            "elapsed": self.elapsed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=data["id"],
            kind=data["kind"],
            title=data["title"],
            status=CheckStatus(data["status"]),
            summary=data["summary"],
            detail=tuple(data.get("detail", ())),
            data=data.get("data", {}),
            started=data["started"],
            elapsed=data["elapsed"],
        )


ParamType = Literal["string", "strings", "number", "duration", "boolean", "url", "path", "argv"]


@dataclass(frozen=True)
class Param:
    """One parameter of a check kind, as written in a symptom or runbook file."""

    name: str
    type: ParamType
    default: Any = None
    required: bool = False
    help: str = ""


@dataclass
class CheckContext:
    """What checks may use. Built by the wizard, `diagnose` or the runbook engine."""

    config: Config
    # the current metrics and alert states; None where nothing collects them
    metrics: Callable[[], Awaitable[Snapshot]] | None = None
    read_only: bool = False  # --read-only: commands are not run (skipped, with why)
    clock: Callable[[], float] = time.time
    # each line a command prints, as it comes (streamed to a screen): (check id, line).
    # A kind calls `ctx.emit(line)`; the runner sets `check_id` for each check.
    output: Callable[[str, str], None] | None = None
    check_id: str = ""
    timeout: float | None = None  # the running check's own timeout, set by the runner

    def emit(self, line: str) -> None:
        if self.output is not None:
            self.output(self.check_id, printable(redact(line)))


CheckFunction = Callable[[CheckContext, Mapping[str, Any]], Awaitable[Outcome]]


@dataclass(frozen=True)
class CheckKind:
    name: str  # as written in files: kind = "http_health"
    title: str  # a default title for a spec that gives none
    params: tuple[Param, ...]
    timeout: float  # seconds; a spec may set its own
    run: CheckFunction
    executes: bool = False  # runs something on a host: not in read-only mode

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Each declared parameter as given, or at its declared default where missing or None.

        A spec read from a file names every parameter; one built in code (the
        runbook engine, a test) may leave some out. Undeclared keys are dropped.
        """
        return {
            param.name: param.default if params.get(param.name) is None else params[param.name]
            for param in self.params
        }


@dataclass(frozen=True)
class CheckSpec:
    """One check as a symptom or runbook step uses it."""

    id: str
    kind: str
    title: str
    params: Mapping[str, Any]
    timeout: float
    # what a failure of this check means, from the symptom's author
    explain: str = ""
