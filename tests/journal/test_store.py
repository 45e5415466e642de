"""The journal store: events in, the same events out, with who, where and when; nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from lessay_console.identity import Operator
from lessay_console.journal import Event, Journal, JournalError, verify
from lessay_console.journal import store as store_module
from lessay_console.journal.chain import GENESIS_HASH
from tests.helpers import await_until

AT = 1796048585.25  # 2026-11-30 14:23:05.25Z


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, as any program (or intruder) with the file could open."""
    return sqlite3.connect(path, isolation_level=None)


# -- round trip ---------------------------------------------------------------------------


def test_an_event_reads_back_as_appended_with_who_where_and_when(
    journal: Journal, journal_file: Path, operator: Operator
) -> None:
    data = {"check": "api_health", "result": "fail", "latency_ms": 812.5, "tags": ["a", "é ✓"]}
    appended = journal.append("incident/1", "check_result", data, at=AT)

    assert appended.seq == 1
    assert appended.data == data
    assert (appended.operator, appended.host, appended.ssh_client) == (
        "alice",
        "bastion-1",
        "203.0.113.7",
    )
    assert appended.pid == os.getpid()
    assert appended.at == AT
    assert re.fullmatch(r"[0-9a-f]{64}", appended.hash)
    assert journal.events() == [appended]
    journal.close()
    with Journal.open(journal_file, Operator("bob", "bastion-2", None)) as reopened:
        assert reopened.events() == [appended]
        second = reopened.append("incident/1", "note", {"text": "restarted api"})
    assert (second.seq, second.operator, second.host, second.ssh_client) == (
        2,
        "bob",
        "bastion-2",
        None,
    )


def test_events_are_linked_each_to_the_one_before(journal: Journal, journal_file: Path) -> None:
    for number in range(3):
        journal.append("run/a", "step_done", {"step": number})
    with closing(raw(journal_file)) as db:
        links = db.execute("SELECT seq, prev_hash, hash FROM events ORDER BY seq").fetchall()
        head = db.execute("SELECT seq, hash FROM chain_head").fetchall()
    assert [seq for seq, _, _ in links] == [1, 2, 3]
    assert links[0][1] == GENESIS_HASH
    assert links[1][1] == links[0][2]
    assert links[2][1] == links[1][2]
    assert head == [(3, links[2][2])]


def test_to_json_gives_every_field(journal: Journal) -> None:
    event = journal.append("run/a", "note", {"text": "hello"}, at=AT)
    exported = json.loads(json.dumps(event.to_json()))
    assert exported == {
        "seq": 1,
        "stream": "run/a",
        "kind": "note",
        "at": AT,
        "operator": "alice",
        "host": "bastion-1",
        "ssh_client": "203.0.113.7",
        "pid": os.getpid(),
        "data": {"text": "hello"},
        "hash": event.hash,
    }


def test_data_is_copied_when_appended(journal: Journal) -> None:
    data = {"items": [1, 2]}
    journal.append("run/a", "note", data)
    data["items"].append(3)
    assert journal.events()[0].data == {"items": [1, 2]}


# -- no secret in the journal ------------------------------------------------------------


def test_passwords_in_data_are_redacted_before_they_reach_the_file(
    journal: Journal, journal_file: Path
) -> None:
    event = journal.append(
        "incident/1",
        "check_result",
        {
            "error": "could not connect to postgresql://lessay:hunter2@db:5432/app",
            "nested": {"dsn": "host=db user=lessay password=hunter2 dbname=app"},
            "argv": ["psql", "postgresql://lessay:hunter2@db/app"],
            "postgresql://lessay:hunter2@db/app": "a key is text too",
        },
    )
    journal.close()

    assert event.data["error"] == "could not connect to postgresql://lessay:***@db:5432/app"
    assert event.data["nested"]["dsn"] == "host=db user=lessay password=*** dbname=app"
    assert event.data["argv"][1] == "postgresql://lessay:***@db/app"
    assert "hunter2" not in json.dumps(event.to_json())
    files = list(journal_file.parent.iterdir())
    assert journal_file in files
    for path in files:
        assert b"hunter2" not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"value": float("nan")}, "NaN"),
        ({"value": [1.0, float("inf")]}, "infinity"),
        ({1: "x"}, "not a string"),
        ({"value": {1, 2}}, "set"),
        ({"value": b"bytes"}, "bytes"),
        ({"value": "\ud800"}, "not valid Unicode"),
        (["not", "a", "mapping"], "mapping"),
    ],
)
def test_data_json_cannot_hold_is_refused_and_nothing_is_written(
    journal: Journal, data: object, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        journal.append("run/a", "note", data)  # type: ignore[arg-type]
    assert journal.last_seq() == 0
    assert journal.events() == []


@pytest.mark.parametrize(("stream", "kind"), [("", "note"), ("run/a", ""), ("run/\udcff", "x")])
def test_a_stream_and_a_kind_are_required(journal: Journal, stream: str, kind: str) -> None:
    with pytest.raises(ValueError):
        journal.append(stream, kind, {})
    assert journal.last_seq() == 0


def test_a_time_must_be_finite(journal: Journal) -> None:
    with pytest.raises(ValueError, match="finite"):
        journal.append("run/a", "note", {}, at=float("nan"))


# -- append-only ---------------------------------------------------------------------------


def test_update_and_delete_are_refused_by_the_file_itself(
    journal: Journal, journal_file: Path
) -> None:
    event = journal.append("run/a", "note", {"text": "original"})
    with closing(raw(journal_file)) as db:
        with pytest.raises(sqlite3.IntegrityError, match="journal events are append-only"):
            db.execute('UPDATE events SET data = \'{"text":"changed"}\' WHERE seq = 1')
        with pytest.raises(sqlite3.IntegrityError, match="journal events are append-only"):
            db.execute("DELETE FROM events WHERE seq = 1")
    assert journal.events() == [event]


# -- reading -------------------------------------------------------------------------------


def test_events_by_stream_after_a_seq_and_of_some_kinds(journal: Journal) -> None:
    journal.append("run/a", "run_started", {})
    journal.append("run/b", "run_started", {})
    journal.append("run/a", "step_started", {"step": 1})
    journal.append("run/a", "note", {"text": "x"})
    journal.append("run/a", "step_done", {"step": 1})

    def seqs(events: list[Event]) -> list[int]:
        return [event.seq for event in events]

    assert seqs(journal.events()) == [1, 2, 3, 4, 5]
    assert seqs(journal.events("run/a")) == [1, 3, 4, 5]
    assert seqs(journal.events("run/a", after=3)) == [4, 5]
    assert seqs(journal.events(after=4)) == [5]
    assert seqs(journal.events("run/a", kinds=["step_started", "step_done"])) == [3, 5]
    assert seqs(journal.events(kinds=iter(["run_started"]))) == [1, 2]
    assert journal.events("run/a", kinds=[]) == []
    assert journal.events("run/c") == []
    assert journal.last_seq() == 5


def test_streams_list_the_newest_first_with_their_first_and_last_events(
    journal: Journal,
) -> None:
    journal.append("incident/1", "opened", {"n": 1})
    journal.append("run/x", "run_started", {})
    journal.append("incident/2", "opened", {"n": 2})
    journal.append("incident/1", "note", {"n": 3})
    journal.append("incident/1", "closed", {"n": 4})

    summaries = journal.streams("incident/")

    assert [(s.stream, s.count) for s in summaries] == [("incident/2", 1), ("incident/1", 3)]
    first, last = summaries[1].first, summaries[1].last
    assert (first.seq, first.kind, first.data) == (1, "opened", {"n": 1})
    assert (last.seq, last.kind, last.data) == (5, "closed", {"n": 4})
    assert summaries[0].first == summaries[0].last
    assert [s.stream for s in journal.streams("run/")] == ["run/x"]
    assert [s.stream for s in journal.streams("")] == ["incident/2", "run/x", "incident/1"]


def test_a_stream_prefix_is_literal_text(journal: Journal) -> None:
    journal.append("run/a", "x", {})
    journal.append("RUN/b", "x", {})
    journal.append("runs", "x", {})
    assert [s.stream for s in journal.streams("run/")] == ["run/a"]
    assert journal.streams("run_") == []
    assert journal.streams("%") == []


def test_new_stream_ids_sort_by_time_and_are_unique(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert re.fullmatch(r"incident/\d{8}-\d{6}-[0-9a-f]{4}", journal.new_stream_id("incident"))
    assert journal.new_stream_id("run/", at=AT).startswith("run/20261130-142305-")
    assert journal.new_stream_id("run", at=AT) < journal.new_stream_id("run", at=AT + 1)
    assert len({journal.new_stream_id("incident", at=AT) for _ in range(2000)}) == 2000

    # a suffix drawn twice is drawn again, whether used by an event or only handed out
    taken = journal.new_stream_id("run", at=AT + 60)
    journal.append(taken, "run_started", {})
    suffix = taken.rsplit("-", 1)[1]
    draws = iter([suffix, "beef", "beef", "cafe"])
    monkeypatch.setattr(store_module.secrets, "token_hex", lambda _n: next(draws))
    assert journal.new_stream_id("run", at=AT + 60) == "run/20261130-142405-beef"
    assert journal.new_stream_id("run", at=AT + 60) == "run/20261130-142405-cafe"


# -- from the event loop ---------------------------------------------------------------------


async def test_concurrent_append_async_calls_are_written_in_call_order(journal: Journal) -> None:
    appended = await asyncio.gather(
        *(journal.append_async("run/a", "tick", {"i": number}) for number in range(100))
    )
    assert [event.data["i"] for event in appended] == list(range(100))
    assert [event.seq for event in appended] == list(range(1, 101))
    assert [event.data["i"] for event in journal.events()] == list(range(100))


@pytest.fixture
def write_lock_held(journal_file: Path, journal: Journal) -> Iterator[sqlite3.Connection]:
    """Another console in the middle of a write: appends wait (busy_timeout) until released."""
    with closing(raw(journal_file)) as other:
        other.execute("BEGIN IMMEDIATE")
        yield other
        if other.in_transaction:
            other.execute("ROLLBACK")


async def test_the_event_loop_runs_on_while_an_append_waits_for_the_file(
    journal: Journal, write_lock_held: sqlite3.Connection
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    append = asyncio.create_task(journal.append_async("run/a", "note", {"text": "waiting"}))

    async def loop_ran_on() -> bool:
        return ticks >= 20

    await await_until(loop_ran_on, within=5)
    assert not append.done()  # still waiting for the lock: the loop was not blocked by it
    write_lock_held.execute("ROLLBACK")
    event = await asyncio.wait_for(append, timeout=10)
    ticking.cancel()
    assert event.seq == 1
    assert journal.events() == [event]


async def test_an_append_whose_caller_is_cancelled_is_still_written(
    journal: Journal, journal_file: Path, write_lock_held: sqlite3.Connection
) -> None:
    # the first write waits for the lock, so the second is still queued when cancelled
    first = asyncio.create_task(journal.append_async("run/a", "step_started", {"step": 1}))
    second = asyncio.create_task(journal.append_async("run/a", "skipped", {"reason": "r"}))
    await asyncio.sleep(0)  # one turn of the loop: both tasks hand their write to the writer
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    write_lock_held.execute("ROLLBACK")
    await asyncio.wait_for(first, timeout=10)
    journal.close()  # waits for the pending write
    with Journal.open(journal_file, Operator("x", "y", None)) as reopened:
        assert [e.kind for e in reopened.events()] == ["step_started", "skipped"]


async def test_a_closed_journal_refuses_appends(journal: Journal) -> None:
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append("run/a", "note", {})
    with pytest.raises(JournalError, match="closed"):
        await journal.append_async("run/a", "note", {})
    with pytest.raises(JournalError, match="closed"):
        journal.events()
    journal.close()  # twice is harmless


# -- the file ------------------------------------------------------------------------------


def test_the_file_is_private_to_the_operator(tmp_path: Path, operator: Operator) -> None:
    path = tmp_path / "new" / "deeper" / "journal.sqlite3"
    with Journal.open(path, operator) as journal:
        journal.append("run/a", "note", {})
        for sidecar in path.parent.iterdir():
            assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_the_schema_is_as_designed(journal: Journal, journal_file: Path) -> None:
    # per connection, not in the file: every append is fsync'd before it returns
    assert journal._writer.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with closing(raw(journal_file)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
        indexes = [row[1] for row in db.execute("PRAGMA index_list(events)")]
        triggers = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    assert columns == [
        "seq",
        "stream",
        "kind",
        "at",
        "operator",
        "host",
        "ssh_client",
        "pid",
        "data",
        "prev_hash",
        "hash",
    ]
    assert "events_by_stream" in indexes
    assert triggers == {"events_refuse_update", "events_refuse_delete"}


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(
    tmp_path: Path, operator: Operator
) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"these are someone's notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(JournalError) as refused:
        Journal.open(path, operator)
    message = str(refused.value)
    assert str(path) in message
    assert "not a SQLite database" in message
    assert "move it aside or use --state-dir" in message
    assert path.read_bytes() == before


def test_a_database_of_another_program_is_refused_and_left_alone(
    tmp_path: Path, operator: Operator
) -> None:
    path = tmp_path / "journal.sqlite3"
    with closing(raw(path)) as db:
        db.execute("CREATE TABLE things (name TEXT)")
    with pytest.raises(JournalError, match="not a lessay-console journal") as refused:
        Journal.open(path, operator)
    assert str(path) in str(refused.value)
    with closing(raw(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    assert tables == ["things"]


def test_a_journal_from_a_newer_version_is_refused(
    journal: Journal, journal_file: Path, operator: Operator
) -> None:
    journal.close()
    with closing(raw(journal_file)) as db:
        db.execute("PRAGMA user_version = 2")
    with pytest.raises(JournalError) as refused:
        Journal.open(journal_file, operator)
    message = str(refused.value)
    assert str(journal_file) in message
    assert "newer lessay-console" in message
    assert "journal schema 2" in message


def test_an_unwritable_directory_is_an_error_naming_the_path(
    tmp_path: Path, operator: Operator, make_unwritable
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    make_unwritable(locked)
    path = locked / "state" / "journal.sqlite3"
    with pytest.raises(JournalError) as refused:
        Journal.open(path, operator)
    message = str(refused.value)
    assert str(path) in message
    assert "--state-dir" in message
    assert not path.parent.exists()


def test_an_existing_journal_in_a_directory_turned_read_only_is_an_error(
    journal: Journal, journal_file: Path, operator: Operator, make_unwritable
) -> None:
    journal.append("run/a", "note", {})
    journal.close()
    make_unwritable(journal_file.parent)
    with pytest.raises(JournalError) as refused, Journal.open(journal_file, operator) as again:
        again.append("run/a", "note", {})
    assert str(journal_file) in str(refused.value)


def test_a_state_dir_that_is_a_file_is_an_error_naming_the_path(
    tmp_path: Path, operator: Operator
) -> None:
    (tmp_path / "state").write_text("not a directory")
    path = tmp_path / "state" / "journal.sqlite3"
    with pytest.raises(JournalError) as refused:
        Journal.open(path, operator)
    assert str(path) in str(refused.value)
    assert "--state-dir" in str(refused.value)


def test_a_journal_verifies_after_appends(journal: Journal, journal_file: Path) -> None:
    for number in range(5):
        journal.append(f"run/{number % 2}", "note", {"n": number})
    report = verify(journal_file)
    assert report.ok, report.problems
    assert report.events == 5
