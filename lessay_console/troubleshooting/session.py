"""A diagnosis: one symptom's checks run, explained and recorded as an incident.

The wizard screen and `lessay-console diagnose` both drive a `Diagnosis`.
Every fact (checks started, each result, an action confirmed and its result,
a note, the escalation) is appended to the journal *before* it is handed to
whoever shows it, so that what was seen was recorded. Without a journal (it
could not be opened) the session still works and says it is not recorded.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckContext, CheckResult, CheckStatus, worst_exit_code
from lessay_console.checks.runner import run_checks
from lessay_console.config import Config
from lessay_console.formatting import format_reading, state_word
from lessay_console.identity import Operator
from lessay_console.rules import DisplayState, Severity
from lessay_console.troubleshooting.incident import STREAM_PREFIX, Incident
from lessay_console.troubleshooting.symptoms import Resolution, Symptom, SymptomCatalog

if TYPE_CHECKING:
    from lessay_console.journal.store import Event, Journal
    from lessay_console.monitor import MetricStatus, Snapshot

# an action's output kept in the journal: the head and the tail of what it printed
ACTION_OUTPUT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Suggestion:
    symptom: Symptom
    reasons: tuple[str, ...]  # "API p95 CRIT 1.42 s", one per alert pointing here


def suggest(catalog: SymptomCatalog, snapshot: Snapshot | None) -> list[Suggestion]:
    """Every symptom; those that firing (then pending) alerts point to first, worst first."""
    alerting = {} if snapshot is None else {s.spec.name: s for s in snapshot.metrics}

    def rank(symptom: Symptom) -> tuple[int, ...]:
        levels = [_alert_rank(alerting[m]) for m in symptom.alerts if m in alerting]
        return (min(levels, default=9),)

    ordered = sorted(catalog.symptoms, key=rank)  # stable: catalog order within a rank
    return [
        Suggestion(
            symptom,
            tuple(
                alert_line(alerting[m])
                for m in symptom.alerts
                if m in alerting and _alert_rank(alerting[m]) < 9
            ),
        )
        for symptom in ordered
    ]


def _alert_rank(status: MetricStatus) -> int:
    """0 critical firing, 1 warning firing, 2 pending, 9 nothing to say."""
    state = status.state
    if state.state is DisplayState.FIRING:
        return 0 if state.severity is Severity.CRITICAL else 1
    if state.state is DisplayState.PENDING:
        return 2
    return 9


def alert_line(status: MetricStatus) -> str:
    value = format_reading(status.spec, status.reading)
    return f"{status.spec.title} {state_word(status.state)} {value}"


class Diagnosis:
    """One wizard session; see the module docstring. Make it with `Diagnosis.open`."""

    def __init__(
        self,
        symptom: Symptom,
        ctx: CheckContext,
        journal: Journal | None,
        operator: Operator,
        incident: Incident,
    ) -> None:
        self.symptom = symptom
        self.ctx = ctx
        self.journal = journal
        self.operator = operator
        self.incident = incident

    @classmethod
    async def open(
        cls,
        symptom: Symptom,
        ctx: CheckContext,
        journal: Journal | None,
        operator: Operator,
        snapshot: Snapshot | None = None,
    ) -> Diagnosis:
        alerts = [] if snapshot is None else _alerts_of(snapshot)
        data = {
            "symptom": symptom.id,
            "title": symptom.title,
            "environment": ctx.config.environment,
            "escalation": symptom.escalation,
            "alerts": alerts,
        }
        stream = _new_stream(journal, ctx.clock())
        first = await _append(journal, operator, stream, "incident.opened", data, ctx.clock())
        return cls(symptom, ctx, journal, operator, Incident.from_events([first]))

    @property
    def recorded(self) -> bool:
        return self.journal is not None

    async def record(self, kind: str, data: dict[str, Any]) -> Event:
        event = await _append(
            self.journal, self.operator, self.incident.id, kind, data, self.ctx.clock()
        )
        self.incident.apply(event)
        return event

    async def run_checks(
        self,
        on_result: Callable[[CheckResult], None] | None = None,
        only: list[str] | None = None,
    ) -> list[CheckResult]:
        """Run the symptom's checks (or `only` those ids) concurrently; each result is
        recorded, then handed to `on_result`, as it ends."""
        specs = [c for c in self.symptom.checks if only is None or c.id in only]
        round_number = self.incident.rounds + 1
        await self.record(
            "checks.started", {"round": round_number, "checks": [c.id for c in specs]}
        )
        results = []
        async for result in run_checks(specs, self.ctx):
            await self.record("check.result", {"round": round_number, "result": result.to_json()})
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    async def run_action(
        self, resolution: Resolution, emit: Callable[[str], None] | None = None
    ) -> Event:
        """Run a resolution's command, already confirmed by the operator; the recorded result."""
        from lessay_console.checks.command import run_command

        argv = list(resolution.command)
        await self.record(
            "action.confirmed",
            {"resolution": resolution.title, "argv": argv, "dangerous": resolution.dangerous},
        )
        if self.ctx.read_only:
            return await self.record(
                "action.result",
                {
                    "resolution": resolution.title,
                    "argv": argv,
                    "status": CheckStatus.SKIPPED.value,
                    "exit_code": None,
                    "summary": "read-only mode: nothing is executed",
                    "output": "",
                },
            )
        try:
            result = await run_command(
                argv,
                timeout=resolution.timeout,
                emit=emit,
                output_limit=ACTION_OUTPUT_LIMIT,
            )
        except asyncio.CancelledError:
            # the console is stopping: the record says the action was cut, not silence
            await asyncio.shield(
                self.record(
                    "action.result",
                    {
                        "resolution": resolution.title,
                        "argv": argv,
                        "status": CheckStatus.ERROR.value,
                        "exit_code": None,
                        "summary": "cut: the console stopped while it ran (outcome unknown)",
                        "output": "",
                    },
                )
            )
            raise
        return await self.record(
            "action.result",
            {"resolution": resolution.title, "argv": argv, **result.journal_fields()},
        )

    async def add_note(self, text: str) -> Event:
        return await self.record("note", {"text": text})

    async def escalate(self) -> Event:
        return await self.record(
            "escalated",
            {
                "team": self.symptom.escalation,
                "contact": contact_of(self.ctx.config, self.symptom.escalation),
                "summary": incident_summary(self.incident, self.symptom),
            },
        )

    async def close(self, outcome: str = "closed") -> Event:
        return await self.record("incident.closed", {"outcome": outcome})

    @property
    def exit_code(self) -> int:
        return worst_exit_code([r.status for r in self.incident.results.values()])


def contact_of(config: Config, team: str) -> str:
    """The team's contact from [escalation], or how to configure it."""
    path = config.escalation.get(team)
    if path is not None and path.contact:
        return path.contact
    return f'no contact configured: set [escalation."{team}"] contact = "..."'


def findings(incident: Incident, symptom: Symptom) -> list[tuple[CheckResult, str]]:
    """Failing and warning results, worst first, each with what it means."""
    explain = {c.id: c.explain for c in symptom.checks}
    position = {c.id: index for index, c in enumerate(symptom.checks)}
    order = {CheckStatus.FAIL: 0, CheckStatus.ERROR: 1, CheckStatus.WARN: 2}
    bad = [r for r in incident.results.values() if r.status in order]
    # worst first, then as the symptom lists its checks (its author's order of reading)
    bad.sort(key=lambda r: (order[r.status], position.get(r.id, len(position))))
    return [(r, explain.get(r.id, "")) for r in bad]


def incident_summary(incident: Incident, symptom: Symptom) -> str:
    """A plain-text summary to paste into a chat or a page: what, since when, found."""
    from lessay_console.troubleshooting.export import iso

    number = incident.id.removeprefix(STREAM_PREFIX)
    lines = [
        f"[{incident.environment}] {incident.title}: incident {number}",
        f"Opened {iso(incident.opened_at)} by {incident.opened_by}",
    ]
    if incident.alerts:
        lines.append("Alerts: " + "; ".join(a["line"] for a in incident.alerts))
    found = findings(incident, symptom)
    if found:
        lines.append("Findings:")
        lines += [f"  {r.status.value.upper()} {r.title}: {r.summary}" for r, _ in found]
    passed = [r for r in incident.results.values() if r.status is CheckStatus.PASS]
    skipped = [r for r in incident.results.values() if r.status is CheckStatus.SKIPPED]
    if passed:
        lines.append("Passed: " + ", ".join(r.title for r in passed))
    if skipped:
        lines.append("Not checked: " + "; ".join(f"{r.title} ({r.summary})" for r in skipped))
    for event in incident.actions:
        data = event.data
        lines.append(f"Action: {' '.join(data['argv'])} -> {data['summary']}")
    lines.append(f"Escalation: {symptom.escalation}")
    return "\n".join(lines)


def _alerts_of(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [
        {
            "metric": s.spec.name,
            "state": s.state.state.value,
            "severity": s.state.severity.value if s.state.severity else None,
            "since": s.state.since,
            "line": alert_line(s),
        }
        for s in sorted(snapshot.metrics, key=_alert_rank)  # worst first
        if _alert_rank(s) < 9
    ]


def _new_stream(journal: Journal | None, at: float) -> str:
    if journal is not None:
        return journal.new_stream_id(STREAM_PREFIX.rstrip("/"), at=at)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(at))
    return f"{STREAM_PREFIX}unrecorded-{stamp}-{os.getpid()}"


async def _append(
    journal: Journal | None,
    operator: Operator,
    stream: str,
    kind: str,
    data: dict[str, Any],
    at: float,
) -> Event:
    if journal is not None:
        return await journal.append_async(stream, kind, data, at=at)
    from lessay_console.journal.store import Event
    from lessay_console.sanitize import scrub

    # not in any journal: no sequence number and no hash, but the same shape
    return Event(
        seq=0,
        stream=stream,
        kind=kind,
        at=at,
        operator=operator.name,
        host=operator.host,
        ssh_client=operator.ssh_client,
        pid=os.getpid(),
        data=scrub(data),
        hash="",
    )
