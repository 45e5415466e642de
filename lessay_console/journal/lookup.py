"""For the commands that read records back (`incident ...`, `runbook runs | export`):
the journal as it exists, and one stream of it, or a message and an exit status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lessay_console.journal.schema import JournalError
from lessay_console.journal.store import Event, Journal, journal_path

Echo = Callable[[str], None]


def open_existing_journal(state_dir_option: Path | None, err: Echo) -> Journal | None:
    """The journal of the state dir; None, having said why, when there is none or it is bad."""
    from lessay_console.identity import current_operator
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


def recorded_stream(
    state_dir_option: Path | None, prefix: str, ident: str, what: str, listing: str, err: Echo
) -> list[Event] | int:
    """The events of `prefix + ident` (the prefix may be given), or the exit status after
    saying why: 3 without a journal, 2 when there is no such `what` (see `listing`)."""
    journal = open_existing_journal(state_dir_option, err)
    if journal is None:
        return 3
    stream = ident if ident.startswith(prefix) else prefix + ident
    with journal:
        events = journal.events(stream)
    if not events:
        err(f"lessay-console: no {what} {ident!r} ({listing})")
        return 2
    return events
