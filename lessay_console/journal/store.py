"""The journal: one SQLite file of append-only, hash-chained events (DESIGN section 8).

Incidents and runbook runs are streams of events ("incident/…", "run/…"); their
owners derive their state from the events. The journal only keeps them: in
order, durable before `append` returns, each signed with who, where and when.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from lessay_console.identity import Operator
from lessay_console.journal.chain import canonical_json, clean_data, event_hash
from lessay_console.journal.schema import (
    BUSY_TIMEOUT_MS,
    JOURNAL_FILE,
    JournalError,
    explain,
    prepare,
)
from lessay_console.locations import journal_file

__all__ = ["JOURNAL_FILE", "Event", "Journal", "JournalError", "StreamSummary", "journal_path"]


def journal_path(state_dir: Path) -> Path:
    return journal_file(state_dir)


@dataclass(frozen=True)
class Event:
    seq: int
    stream: str
    kind: str
    at: float  # seconds since the epoch
    operator: str
    host: str
    ssh_client: str | None
    pid: int
    data: dict[str, Any]
    hash: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (for exports: `json.dumps` it)."""
        return {
            "seq": self.seq,
            "stream": self.stream,
            "kind": self.kind,
            "at": self.at,
            "operator": self.operator,
            "host": self.host,
            "ssh_client": self.ssh_client,
            "pid": self.pid,
            "data": self.data,
            "hash": self.hash,
        }

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Event:
        """From the columns seq … data, prev_hash, hash as the queries below select them."""
        seq, stream, kind, at, operator, host, ssh_client, pid, data, _prev, digest = row
        return cls(seq, stream, kind, at, operator, host, ssh_client, pid, json.loads(data), digest)


@dataclass(frozen=True)
class StreamSummary:
    stream: str
    first: Event
    last: Event
    count: int


@dataclass(frozen=True)
class _Pending:
    """An event checked and redacted on the caller's thread, waiting to be written."""

    stream: str
    kind: str
    at: float
    data: dict[str, Any]


# Literal SQL, values bound: ?2 is a JSON array of kinds or NULL for all.
_ALL_EVENTS = """
SELECT seq, stream, kind, at, operator, host, ssh_client, pid, data, prev_hash, hash
FROM events
WHERE seq > ?1 AND (?2 IS NULL OR kind IN (SELECT value FROM json_each(?2)))
ORDER BY seq"""
_STREAM_EVENTS = """
SELECT seq, stream, kind, at, operator, host, ssh_client, pid, data, prev_hash, hash
FROM events
WHERE stream = ?3 AND seq > ?1 AND (?2 IS NULL OR kind IN (SELECT value FROM json_each(?2)))
ORDER BY seq"""
# substr rather than LIKE: LIKE ignores case and takes _ and % for wildcards.
_STREAMS = """
WITH s AS (
    SELECT stream, min(seq) AS first_seq, max(seq) AS last_seq, count(*) AS n
    FROM events WHERE substr(stream, 1, length(?1)) = ?1 GROUP BY stream
)
SELECT s.stream, s.n,
    f.seq, f.stream, f.kind, f.at, f.operator, f.host, f.ssh_client, f.pid, f.data, f.prev_hash,
    f.hash,
    l.seq, l.stream, l.kind, l.at, l.operator, l.host, l.ssh_client, l.pid, l.data, l.prev_hash,
    l.hash
FROM s JOIN events f ON f.seq = s.first_seq JOIN events l ON l.seq = s.last_seq
ORDER BY s.first_seq DESC"""


class Journal:
    """Open with `Journal.open`; close (or use as a context manager) to finish pending writes."""

    def __init__(
        self,
        path: Path,
        operator: Operator,
        writer: sqlite3.Connection,
        reader: sqlite3.Connection,
    ) -> None:
        self.path = path
        self.operator = Operator(
            _valid_text(operator.name),
            _valid_text(operator.host),
            _valid_text(operator.ssh_client) if operator.ssh_client is not None else None,
        )
        # Two connections: in WAL mode a reader never waits behind a writer's fsync,
        # so listing events from the UI thread stays fast while an append commits.
        self._writer = writer
        self._write_lock = threading.Lock()
        self._reader = reader
        self._read_lock = threading.Lock()
        # ONE thread for append_async: writes keep the order of the calls.
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-writer")
        self._issued_ids: set[str] = set()
        self._closed = False

    @classmethod
    def open(cls, path: Path, operator: Operator) -> Journal:
        """Open the journal at `path`, creating it (dirs 0700, file 0600) if it is not there."""
        try:
            _make_private_dirs(path.parent)
            # Created here rather than by SQLite, for its mode; the -wal and -shm
            # files SQLite adds take the mode of the database file.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as error:
            raise explain(error, path, "create") from None
        connections: list[sqlite3.Connection] = []
        try:
            writer = _connect(path)
            connections.append(writer)
            writer.execute("PRAGMA journal_mode = WAL")
            prepare(writer, path)
            connections.append(reader := _connect(path))
            return cls(path, operator, writer, reader)
        except (sqlite3.Error, JournalError) as error:
            for connection in connections:
                connection.close()
            if isinstance(error, JournalError):
                raise
            raise explain(error, path, "open") from None

    # -- writing ------------------------------------------------------------------

    def append(
        self, stream: str, kind: str, data: Mapping[str, Any], *, at: float | None = None
    ) -> Event:
        """Append one event; it is on disk (fsync'd) when this returns.

        Raises ValueError for data JSON cannot hold, JournalError when the file cannot be written.
        """
        return self._write(self._prepare(stream, kind, data, at))

    async def append_async(
        self, stream: str, kind: str, data: Mapping[str, Any], *, at: float | None = None
    ) -> Event:
        """`append` on the journal's writer thread: the event loop goes on while it commits.

        Events are written in the order the calls start. A call whose task is
        cancelled still writes its event (close() waits for it): a recorded
        action is never lost for lack of someone waiting on it.
        """
        pending = self._prepare(stream, kind, data, at)
        try:
            future = self._write_thread.submit(self._write, pending)
        except RuntimeError:  # the executor refuses work once shut down
            raise JournalError(f"journal {self.path} is closed") from None
        return await asyncio.shield(asyncio.wrap_future(future))

    def _prepare(
        self, stream: str, kind: str, data: Mapping[str, Any], at: float | None
    ) -> _Pending:
        for name, value in (("stream", stream), ("kind", kind)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"journal event {name} must be a non-empty string: {value!r}")
            _valid_text(value, strict=True)
        at = time.time() if at is None else float(at)
        if not math.isfinite(at):
            raise ValueError(f"journal event time must be a finite number: {at}")
        return _Pending(stream, kind, at, clean_data(data))

    def _write(self, pending: _Pending) -> Event:
        with self._write_lock:
            if self._closed:
                raise JournalError(f"journal {self.path} is closed")
            connection = self._writer
            try:
                connection.execute("BEGIN IMMEDIATE")  # the head is ours until COMMIT
                try:
                    event = self._insert(pending)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise explain(error, self.path, "write to") from None
        return event

    def _insert(self, pending: _Pending) -> Event:
        """Link the event to the head, insert it, move the head; inside the caller's transaction."""
        head_seq, prev_hash = self._writer.execute(
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        ).fetchone()
        operator = self.operator
        columns = (
            head_seq + 1,
            prev_hash,
            pending.stream,
            pending.kind,
            pending.at,
            operator.name,
            operator.host,
            operator.ssh_client,
            os.getpid(),
        )
        digest = event_hash(*columns, pending.data)
        self._writer.execute(
            "INSERT INTO events (seq, prev_hash, stream, kind, at, operator, host, ssh_client,"
            " pid, data, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*columns, canonical_json(pending.data), digest),
        )
        self._writer.execute(
            "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (head_seq + 1, digest)
        )
        seq, _prev, stream, kind, at, name, host, ssh_client, pid = columns
        return Event(seq, stream, kind, at, name, host, ssh_client, pid, pending.data, digest)

    def new_stream_id(self, prefix: str, *, at: float | None = None) -> str:
        """A new stream name such as "incident/20261130-142305-7f3a": sorts by creation time
        (`at`, default now, in UTC).

        Unique in this journal: the random suffix is drawn again if a stream of that
        name exists or this journal has handed it out already.
        """
        prefix = prefix.rstrip("/")
        if not prefix:
            raise ValueError("a stream id needs a prefix, such as 'incident' or 'run'")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(at))
        while True:
            candidate = f"{prefix}/{stamp}-{secrets.token_hex(2)}"
            if candidate not in self._issued_ids and not self._stream_exists(candidate):
                self._issued_ids.add(candidate)
                return candidate

    # -- reading --------------------------------------------------------------------

    def events(
        self, stream: str | None = None, *, after: int = 0, kinds: Iterable[str] | None = None
    ) -> list[Event]:
        """Events in seq order: of one stream (or all), after seq `after`, of the given kinds."""
        wanted = None if kinds is None else json.dumps(list(kinds))
        if stream is None:
            rows = self._read(_ALL_EVENTS, [after, wanted])
        else:
            rows = self._read(_STREAM_EVENTS, [after, wanted, stream])
        return [Event.from_row(row) for row in rows]

    def streams(self, prefix: str) -> list[StreamSummary]:
        """Every stream whose name starts with `prefix`, the most recently started first."""
        return [
            StreamSummary(
                stream=row[0],
                count=row[1],
                first=Event.from_row(row[2:13]),
                last=Event.from_row(row[13:]),
            )
            for row in self._read(_STREAMS, [prefix])
        ]

    def last_seq(self) -> int:
        """The seq of the last event appended, 0 for an empty journal."""
        return self._read("SELECT seq FROM chain_head WHERE id = 1", [])[0][0]

    def _stream_exists(self, stream: str) -> bool:
        return bool(self._read("SELECT 1 FROM events WHERE stream = ? LIMIT 1", [stream]))

    def _read(self, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._read_lock:
            if self._closed:
                raise JournalError(f"journal {self.path} is closed")
            try:
                return self._reader.execute(query, params).fetchall()
            except sqlite3.Error as error:
                raise explain(error, self.path, "read") from None

    # -- closing --------------------------------------------------------------------

    def close(self) -> None:
        """Finish the writes already asked for, then close the file. Closing twice is harmless."""
        self._write_thread.shutdown(wait=True)
        with self._write_lock, self._read_lock:
            if not self._closed:
                self._closed = True
                self._writer.close()
                self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's;
    # check_same_thread=False: the writer thread and the caller's share them, under locks.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA synchronous = FULL")  # fsync the WAL at every commit
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700: the journal says who did what."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)


def _valid_text(text: str, *, strict: bool = False) -> str:
    """`text` as valid UTF-8. Names from the environment may carry undecodable bytes
    (as surrogates): replaced in operator fields, refused in stream and kind names."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if strict:
            raise ValueError(f"{text!r} is not valid Unicode") from None
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
