"""An incident for the post-mortem: Markdown for people, JSON for tools.

Both are made from the journal's events only. Every text in them came through
the check runner or the journal (redacted, control characters made visible)
and is sanitized once more here, since an export is read with `cat` in a
terminal as often as in a renderer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import worst_exit_code
from lessay_console.redaction import redact
from lessay_console.sanitize import printable, printable_line, scrub
from lessay_console.troubleshooting.incident import Incident, who

if TYPE_CHECKING:
    from lessay_console.journal.store import Event

EXIT_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def iso(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_json(incident: Incident) -> dict[str, Any]:
    code = worst_exit_code([r.status for r in incident.results.values()])
    return {
        "incident": incident.id,
        "symptom": incident.symptom,
        "title": incident.title,
        "environment": incident.environment,
        "opened_at": iso(incident.opened_at),
        "opened_by": incident.opened_by,
        "escalation": incident.escalation,
        "status": EXIT_WORDS[code],
        "closed": incident.closed,
        "alerts": incident.alerts,
        "results": [r.to_json() for r in incident.results.values()],
        "events": [exported_event(e) for e in incident.events],
    }


def exported_event(event: Event) -> dict[str, Any]:
    """One journal event as the exports give it: its time in ISO 8601, who, what, its hash."""
    return {
        "seq": event.seq,
        "at": iso(event.at),
        "kind": event.kind,
        "operator": event.operator,
        "host": event.host,
        "ssh_client": event.ssh_client,
        "pid": event.pid,
        "data": event.data,
        "hash": event.hash,
    }


def dumps(incident: Incident) -> str:
    return json.dumps(scrub(to_json(incident)), indent=2, ensure_ascii=False, allow_nan=False)


def to_markdown(incident: Incident) -> str:
    code = worst_exit_code([r.status for r in incident.results.values()])
    out = [
        f"# Incident: {_inline(incident.title)}",
        "",
        f"- Incident: `{incident.id}`",
        f"- Environment: {_inline(incident.environment)}",
        f"- Opened: {iso(incident.opened_at)} by {_inline(incident.opened_by)}",
        f"- Checks: {EXIT_WORDS[code]}",
        f"- Escalation path: {_inline(incident.escalation)}",
        f"- State: {'closed (' + _inline(incident.closed) + ')' if incident.closed else 'open'}",
        "",
    ]
    if incident.alerts:
        out += ["## Alerts when it was opened", ""]
        out += [f"- {_inline(a['line'])}" for a in incident.alerts]
        out.append("")
    out += ["## Checks (latest result of each)", "", "| Result | Check | Summary | Took |"]
    out.append("|---|---|---|---|")
    for r in incident.results.values():
        cells = (r.status.value.upper(), _cell(r.title), _cell(r.summary), f"{r.elapsed:.2f}s")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    detailed = [r for r in incident.results.values() if r.detail]
    for r in detailed:
        out += [f"### {_inline(r.title)}: {r.status.value.upper()}", "", *fenced(r.detail), ""]
    out += ["## Timeline", ""]
    out += [f"- {iso(e.at)} {_inline(who(e))}: {_inline(_describe(e))}" for e in incident.events]
    out.append("")
    for event in incident.actions:
        data = event.data
        out += [f"## Action: `{_inline(' '.join(data['argv']))}`", ""]
        out += [f"{_inline(data['summary'])} ({iso(event.at)}, {_inline(who(event))})", ""]
        if data.get("output"):
            out += [*fenced(str(data["output"]).splitlines()), ""]
    return "\n".join(out).rstrip() + "\n"


def _describe(event: Any) -> str:  # noqa: PLR0911 - one line per event kind
    data = event.data
    match event.kind:
        case "incident.opened":
            return f"opened the incident ({data['title']})"
        case "checks.started":
            return f"ran checks (round {data['round']}): {', '.join(data['checks'])}"
        case "check.result":
            result = data["result"]
            return f"{result['status'].upper()} {result['title']}: {result['summary']}"
        case "action.confirmed":
            danger = " (dangerous)" if data.get("dangerous") else ""
            return f"confirmed{danger}: {' '.join(data['argv'])}"
        case "action.result":
            return f"action {' '.join(data['argv'])}: {data['summary']}"
        case "note":
            return f"note: {data['text']}"
        case "escalated":
            return f"escalated to {data['team']} ({data['contact'] or 'no contact configured'})"
        case "incident.closed":
            return f"closed: {data['outcome']}"
    return event.kind


def _inline(text: str | None) -> str:
    return printable_line(redact(text or ""))


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def fenced(lines: Any) -> list[str]:
    body = [printable(redact(line)) for line in lines]
    # a fence longer than any run of backticks inside cannot be closed by the content
    longest = max((len(m) for line in body for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", *body, fence]
