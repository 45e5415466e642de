"""The journal: append-only, hash-chained events in SQLite (DESIGN section 8).

    with Journal.open(journal_path(state_dir(None)), current_operator()) as journal:
        incident = journal.new_stream_id("incident")
        journal.append(incident, "note", {"text": "payments failing since 14:02"})
        await journal.append_async(incident, "check_result", {...})  # from the UI
        journal.events(incident)                                    # its timeline

`verify(path)` checks the chain without writing (`lessay-console journal verify`).
"""

from lessay_console.journal.schema import JOURNAL_FILE, JournalError
from lessay_console.journal.store import Event, Journal, StreamSummary, journal_path
from lessay_console.journal.verify import VerifyReport, verify

__all__ = [
    "JOURNAL_FILE",
    "Event",
    "Journal",
    "JournalError",
    "StreamSummary",
    "VerifyReport",
    "journal_path",
    "verify",
]
