"""`lessay-console incident list | export`: recorded incidents read back from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lessay_console.journal.lookup import open_existing_journal, recorded_stream
from lessay_console.troubleshooting import export
from lessay_console.troubleshooting.incident import STREAM_PREFIX, Incident

Echo = Callable[[str], None]


def list_incidents(state_dir_option: Path | None, echo: Echo, err: Echo) -> int:
    journal = open_existing_journal(state_dir_option, err)
    if journal is None:
        return 3
    with journal:
        streams = journal.streams(STREAM_PREFIX)
        if not streams:
            echo("no incidents recorded")
        for summary in streams:
            incident = Incident.from_events(journal.events(summary.stream))
            state = f"closed ({incident.closed})" if incident.closed else "open"
            echo(
                f"{incident.id.removeprefix(STREAM_PREFIX)}  {export.iso(incident.opened_at)}  "
                f"{incident.opened_by}  {incident.title}  [{state}, {summary.count} events]"
            )
    return 0


def export_incident(
    state_dir_option: Path | None, incident_id: str, fmt: str, echo: Echo, err: Echo
) -> int:
    events = recorded_stream(
        state_dir_option,
        STREAM_PREFIX,
        incident_id,
        "incident",
        "lessay-console incident list",
        err,
    )
    if isinstance(events, int):
        return events
    incident = Incident.from_events(events)
    echo(export.dumps(incident) if fmt == "json" else export.to_markdown(incident).rstrip("\n"))
    return 0
