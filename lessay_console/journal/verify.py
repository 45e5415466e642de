"""`lessay-console journal verify`: walk the hash chain and report what was altered or removed.

Reads the file read-only and never creates it. It checks what an append
guarantees: seq numbers 1, 2, 3… without gaps, each event linked to the one
before by its prev_hash, each hash matching the event's content, the chain head
matching the last event, and the triggers that refuse UPDATE and DELETE in place.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lessay_console.journal.chain import GENESIS_HASH, event_hash
from lessay_console.journal.schema import (
    BUSY_TIMEOUT_MS,
    TRIGGERS,
    JournalError,
    check_version,
    explain,
)

SHOWN_PROBLEMS = 50  # a journal rewritten wholesale would otherwise print a line per event


@dataclass
class VerifyReport:
    path: Path
    events: int = 0
    first_at: float | None = None
    last_at: float | None = None
    last_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        head = f"journal {self.path}: {self.events:,} event{'' if self.events == 1 else 's'}"
        if self.ok:
            if self.last_at is None:
                return f"{head}, chain intact"
            return f"{head}, chain intact (last #{self.last_seq} at {_utc(self.last_at)})"
        count = len(self.problems)
        lines = [f"{head}, {count:,} problem{'' if count == 1 else 's'}:"]
        lines += [f"  {problem}" for problem in self.problems[:SHOWN_PROBLEMS]]
        if count > SHOWN_PROBLEMS:
            lines.append(f"  ... and {count - SHOWN_PROBLEMS:,} more")
        return "\n".join(lines)


def verify(path: Path) -> VerifyReport:
    """Check the journal at `path`. Raises JournalError when it cannot be read at all."""
    if not path.exists():
        raise JournalError(f"there is no journal at {path} yet")
    if not path.is_file():
        raise JournalError(f"{path} is not a file: a journal is a SQLite file")
    connection = _open_read_only(path)
    try:
        if check_version(connection, path) == 0:
            raise JournalError(f"{path} is an empty SQLite file, not a lessay-console journal")
        connection.execute("BEGIN")  # one snapshot: consoles may append while we read
        report = VerifyReport(path)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        _check_triggers(connection, report)
        if "events" not in tables:
            report.problems.append("the events table is missing: every event was removed")
            return report
        rows = connection.execute(
            "SELECT seq, stream, kind, at, operator, host, ssh_client, pid, data, prev_hash, hash"
            " FROM events ORDER BY seq"
        )
        last_hash = _walk(rows, report)
        if "chain_head" not in tables:
            report.problems.append(
                "the chain head is missing: events removed from the end would go unseen"
            )
        else:
            _check_head(connection, report, last_hash)
        return report
    except sqlite3.Error as error:
        raise explain(error, path, "read") from None
    finally:
        connection.close()


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; a missing file is an error, never created.

    Reading a WAL journal needs its -shm file, which SQLite creates if it can. In a
    directory nobody may write to (a copy kept as evidence) it cannot; with no -wal
    file no console has the journal open, so the file alone is the whole journal and
    is read as immutable.
    """
    try:
        connection = _connect(path, "mode=ro")
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            connection.close()
            wal = path.with_name(path.name + "-wal")
            if error.sqlite_errorname != "SQLITE_CANTOPEN" or wal.exists():
                raise
            connection = _connect(path, "mode=ro&immutable=1")
    except sqlite3.Error as error:
        raise explain(error, path, "open") from None
    return connection


def _connect(path: Path, options: str) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?{options}"  # quote(): the path goes in a URI
    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def _check_triggers(connection: sqlite3.Connection, report: VerifyReport) -> None:
    stored = dict(
        connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    )
    for name, sql in TRIGGERS.items():
        if stored.get(name) != sql:
            state = "missing" if name not in stored else "altered"
            report.problems.append(
                f"trigger {name} is {state}: events could have been changed in place"
            )


def _walk(rows: Iterable[tuple[Any, ...]], report: VerifyReport) -> str:
    """Check every event against the one before; return the stored hash of the last."""
    expected_seq, prev_hash = 1, GENESIS_HASH
    for row in rows:
        seq, stream, kind, at, operator, host, ssh_client, pid, data, stored_prev, stored = row
        report.events += 1
        report.first_at = at if report.first_at is None else report.first_at
        report.last_at, report.last_seq = at, seq
        if seq != expected_seq:
            # the next prev_hash cannot match across a gap: the gap is the one problem
            report.problems.append(f"{_range(expected_seq, seq - 1)} missing")
        elif stored_prev != prev_hash:
            report.problems.append(
                f"event #{seq} does not link to event #{seq - 1}: "
                f"#{seq - 1} was replaced (its hash rewritten) or #{seq} was altered"
            )
        try:
            content = json.loads(data)
        except (TypeError, ValueError):
            content = data  # not JSON any more: it cannot match its hash
        if (
            event_hash(seq, stored_prev, stream, kind, at, operator, host, ssh_client, pid, content)
            != stored
        ):
            report.problems.append(
                f"event #{seq} ({stream}, {kind}) was altered: its content does not match its hash"
            )
        expected_seq, prev_hash = seq + 1, stored
    return prev_hash


def _check_head(connection: sqlite3.Connection, report: VerifyReport, last_hash: str) -> None:
    head = connection.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
    if head is None:
        report.problems.append("the chain head is empty: events removed from the end go unseen")
        return
    head_seq, head_hash = head
    if head_seq > report.last_seq:
        report.problems.append(
            f"{_range(report.last_seq + 1, head_seq)} missing from the end "
            f"({head_seq - report.last_seq:,} event{'s' if head_seq - report.last_seq > 1 else ''})"
        )
    elif head_seq < report.last_seq:
        report.problems.append(
            f"{_range(head_seq + 1, report.last_seq)} after the chain head: "
            "added to the file outside the journal"
        )
    elif head_hash != last_hash:
        report.problems.append(f"event #{head_seq} does not match the chain head: it was replaced")


def _range(first: int, last: int) -> str:
    if first == last:
        return f"event #{first} is"
    return f"events #{first} to #{last} are"


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(at))
