"""The journal file: its tables, its version, and what its errors mean to an operator."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lessay_console.journal.chain import GENESIS_HASH
from lessay_console.locations import JOURNAL_FILE  # noqa: F401 - re-exported

SCHEMA_VERSION = 1  # PRAGMA user_version of the files this code writes
BUSY_TIMEOUT_MS = 10_000  # several consoles on one host share the file; appends take milliseconds

# verify compares the stored text of these triggers with this text: a trigger
# replaced by one that does nothing counts as missing.
TRIGGERS = {
    "events_refuse_update": (
        "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events\n"
        "BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END"
    ),
    "events_refuse_delete": (
        "CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events\n"
        "BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END"
    ),
}

_TABLES = (
    """CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    operator TEXT NOT NULL,
    host TEXT NOT NULL,
    ssh_client TEXT,
    pid INTEGER NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)""",
    "CREATE INDEX events_by_stream ON events (stream, seq)",
    # The last event appended, written in the same transaction: events deleted
    # from the end leave the head pointing past them, which verify reports.
    """CREATE TABLE chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
)""",
)


class JournalError(Exception):
    """The journal cannot be opened, read or written; the message says where, why and the fix."""


def prepare(connection: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new file, or check that an existing one is a journal we can write."""
    connection.execute("BEGIN IMMEDIATE")  # two consoles creating the file at once: one does it
    try:
        version = check_version(connection, path)
        if version == 0:
            for statement in (*_TABLES, *TRIGGERS.values()):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, ?)", (GENESIS_HASH,)
            )
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def check_version(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version: 0 for an empty file, SCHEMA_VERSION for a journal.

    Anything else is refused: a newer journal may hash or link events differently,
    and a database of some other program must not get our tables added to it.
    """
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer lessay-console (journal schema {version}; "
            f"this version knows up to {SCHEMA_VERSION}): upgrade lessay-console, "
            "or use --state-dir for a separate journal"
        )
    if version == 0 and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise JournalError(
            f"{path} is a SQLite database of some other program, not a lessay-console journal: "
            "move it aside or use --state-dir"
        )
    if version not in (0, SCHEMA_VERSION):
        raise JournalError(f"{path} has an unknown journal schema {version}: move it aside")
    return version


def explain(error: sqlite3.Error | OSError, path: Path, doing: str) -> JournalError:
    """A JournalError for an operator: the path, what went wrong, what to do."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return JournalError(
            f"{path} is not a lessay-console journal (not a SQLite database): "
            "move it aside or use --state-dir"
        )
    if name == "SQLITE_BUSY":
        return JournalError(
            f"cannot {doing} {path}: another process has held it locked for "
            f"{BUSY_TIMEOUT_MS // 1000} s; find it with `fuser {path}`"
        )
    if name == "SQLITE_FULL":
        return JournalError(f"cannot {doing} {path}: the disk is full; free some space")
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return JournalError(
        f"cannot {doing} {path}: {reason}: check the permissions of {path.parent} and of "
        "the file, or use --state-dir"
    )
