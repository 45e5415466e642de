"""An incident as its journal events tell it: what the wizard shows on resume and exports.

The journal holds the facts (DESIGN section 8: state is derived from events);
this module reads them back. Event kinds of an incident stream:

    incident.opened   {symptom, title, environment, escalation, alerts: [...]}
    checks.started    {round, checks: [id, ...]}
    check.result      {round, result: CheckResult.to_json()}
    action.confirmed  {resolution, argv, dangerous}
    action.result     {resolution, argv, status, exit_code, summary, output}
    note              {text}
    escalated         {team, contact, summary}
    incident.closed   {outcome}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckResult

if TYPE_CHECKING:
    from lessay_console.journal.store import Event

STREAM_PREFIX = "incident/"


@dataclass
class Incident:
    id: str  # the journal stream
    symptom: str
    title: str
    environment: str
    opened_at: float
    opened_by: str
    escalation: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # the latest result of each check, in the order they ended
    results: dict[str, CheckResult] = field(default_factory=dict)
    rounds: int = 0
    events: list[Event] = field(default_factory=list)
    closed: str | None = None  # the outcome, once closed

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Incident:
        events = list(events)
        if not events or events[0].kind != "incident.opened":
            raise ValueError("an incident's stream starts with incident.opened")
        first = events[0]
        data = first.data
        incident = cls(
            id=first.stream,
            symptom=data["symptom"],
            title=data["title"],
            environment=data.get("environment", ""),
            opened_at=first.at,
            opened_by=who(first),
            escalation=data.get("escalation", ""),
            alerts=list(data.get("alerts", [])),
        )
        for event in events:
            incident.apply(event)
        return incident

    def apply(self, event: Event) -> None:
        self.events.append(event)
        if event.kind == "checks.started":
            self.rounds = max(self.rounds, int(event.data.get("round", 0)))
        elif event.kind == "check.result":
            result = CheckResult.from_json(event.data["result"])
            self.results.pop(result.id, None)  # re-inserted: ordered by when it ended
            self.results[result.id] = result
        elif event.kind == "incident.closed":
            self.closed = event.data.get("outcome", "closed")

    @property
    def notes(self) -> list[Event]:
        return [e for e in self.events if e.kind == "note"]

    @property
    def actions(self) -> list[Event]:
        return [e for e in self.events if e.kind == "action.result"]


def who(event: Event) -> str:
    """operator@host (from ssh client), as the record shows it."""
    text = f"{event.operator}@{event.host}"
    return f"{text} (from {event.ssh_client})" if event.ssh_client else text
