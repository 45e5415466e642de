"""`lessay-console incident list | export`: recorded incidents read back from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lessay_console.troubleshooting import export
from lessay_console.troubleshooting.incident import STREAM_PREFIX, Incident

if TYPE_CHECKING:
    from lessay_console.journal import Journal

Echo = Callable[[str], None]


def open_existing_journal(state_dir_option: Path | None, err: Echo) -> Journal | None:
    from lessay_console.identity import current_operator
    from lessay_console.journal import Journal, JournalError, journal_path
    from lessay_console.locations import state_dir

    path = journal_path(state_dir(state_dir_option))
    if not path.exists():
        err(f"lessay-console: there is no journal at {path} yet")
        return None
    try:
        return Journal.open(path, current_operator())
    except JournalError as error:
        err(f"lessay-console: {error}")
        return None


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
    journal = open_existing_journal(state_dir_option, err)
    if journal is None:
        return 3
    stream = incident_id if incident_id.startswith(STREAM_PREFIX) else STREAM_PREFIX + incident_id
    with journal:
        events = journal.events(stream)
    if not events:
        err(f"lessay-console: no incident {incident_id!r} (lessay-console incident list)")
        return 2
    incident = Incident.from_events(events)
    echo(export.dumps(incident) if fmt == "json" else export.to_markdown(incident).rstrip("\n"))
    return 0
