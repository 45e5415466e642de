"""`journal verify`: an intact chain passes; every altered or missing event is named."""

from __future__ import annotations

import calendar
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessay_console.cli import main
from lessay_console.identity import Operator
from lessay_console.journal import JOURNAL_FILE, Journal, JournalError, VerifyReport, verify
from lessay_console.journal.chain import canonical_json, event_hash
from lessay_console.journal.schema import TRIGGERS
from tests.helpers import console_env

AT = float(calendar.timegm((2026, 11, 30, 14, 23, 5)))


def tamper(path: Path, *statements: str, restore_triggers: bool = True) -> None:
    """Change the file as an intruder would: drop the guards, edit, put the guards back."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN")
        for name in TRIGGERS:
            db.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            db.execute(statement)
        if restore_triggers:
            for sql in TRIGGERS.values():
                db.execute(sql)
        db.execute("COMMIT")


@pytest.fixture
def five_events(journal: Journal, journal_file: Path) -> Path:
    for number in range(1, 6):
        journal.append("incident/1", f"kind{number}", {"n": number}, at=AT + number)
    journal.close()
    return journal_file


def problems_of(path: Path) -> list[str]:
    report = verify(path)
    assert report.ok == (not report.problems)
    return report.problems


# -- intact -------------------------------------------------------------------------------


def test_an_intact_journal_passes_with_a_one_line_summary(five_events: Path) -> None:
    report = verify(five_events)
    assert report.ok
    assert report.problems == []
    assert report.events == 5
    assert (report.first_at, report.last_at) == (AT + 1, AT + 5)
    assert report.render() == (
        f"journal {five_events}: 5 events, chain intact (last #5 at 2026-11-30 14:23:10Z)"
    )


def test_an_empty_journal_is_intact(journal: Journal, journal_file: Path) -> None:
    journal.close()
    report = verify(journal_file)
    assert report.ok
    assert report.render() == f"journal {journal_file}: 0 events, chain intact"


def test_the_summary_groups_thousands() -> None:
    report = VerifyReport(Path("/s/j.sqlite3"), events=1234, last_at=AT, last_seq=1234)
    assert report.render() == (
        "journal /s/j.sqlite3: 1,234 events, chain intact (last #1234 at 2026-11-30 14:23:05Z)"
    )


def test_a_long_list_of_problems_is_cut_short() -> None:
    report = VerifyReport(Path("/j"), events=100, problems=[f"problem {n}" for n in range(80)])
    lines = report.render().splitlines()
    assert lines[0] == "journal /j: 100 events, 80 problems:"
    assert lines[1] == "  problem 0"
    assert lines[-1] == "  ... and 30 more"
    assert len(lines) == 52


# -- altered -------------------------------------------------------------------------------


def test_an_event_altered_in_place_is_named_by_its_seq(five_events: Path) -> None:
    tamper(five_events, """UPDATE events SET data = '{"n":300}' WHERE seq = 3""")
    problems = problems_of(five_events)
    assert problems == [
        "event #3 (incident/1, kind3) was altered: its content does not match its hash"
    ]
    assert "event #3" in verify(five_events).render()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("stream", "'incident/2'"),
        ("kind", "'other'"),
        ("at", "at + 60"),
        ("operator", "'mallory'"),
        ("host", "'elsewhere'"),
        ("ssh_client", "NULL"),
        ("pid", "pid + 1"),
    ],
)
def test_every_column_is_covered_by_the_hash(five_events: Path, column: str, value: str) -> None:
    tamper(five_events, f"UPDATE events SET {column} = {value} WHERE seq = 2")  # noqa: S608
    [problem] = problems_of(five_events)
    assert problem.startswith("event #2 (") and "was altered" in problem


def test_data_that_is_no_longer_json_is_altered(five_events: Path) -> None:
    tamper(five_events, "UPDATE events SET data = 'not json' WHERE seq = 4")
    assert problems_of(five_events) == [
        "event #4 (incident/1, kind4) was altered: its content does not match its hash"
    ]


def test_an_event_rewritten_with_a_fresh_hash_breaks_the_next_link(five_events: Path) -> None:
    """An intruder who recomputes the altered event's own hash still cannot relink the next."""
    with closing(sqlite3.connect(five_events)) as db:
        row = db.execute(
            "SELECT seq, prev_hash, stream, kind, at, operator, host, ssh_client, pid"
            " FROM events WHERE seq = 3"
        ).fetchone()
    forged = {"n": 300}
    digest = event_hash(*row, forged)
    tamper(
        five_events,
        f"UPDATE events SET data = '{canonical_json(forged)}', hash = '{digest}' WHERE seq = 3",  # noqa: S608
    )
    assert problems_of(five_events) == [
        "event #4 does not link to event #3: #3 was replaced (its hash rewritten) or #4 was altered"
    ]


def test_a_last_event_replaced_with_a_fresh_hash_no_longer_matches_the_head(
    five_events: Path,
) -> None:
    with closing(sqlite3.connect(five_events)) as db:
        row = db.execute(
            "SELECT seq, prev_hash, stream, kind, at, operator, host, ssh_client, pid"
            " FROM events WHERE seq = 5"
        ).fetchone()
    digest = event_hash(*row, {"n": 500})
    tamper(
        five_events,
        f"""UPDATE events SET data = '{{"n":500}}', hash = '{digest}' WHERE seq = 5""",  # noqa: S608
    )
    assert problems_of(five_events) == ["event #5 does not match the chain head: it was replaced"]


# -- missing -------------------------------------------------------------------------------


def test_a_deleted_middle_event_is_reported_missing(five_events: Path) -> None:
    tamper(five_events, "DELETE FROM events WHERE seq = 3")
    assert problems_of(five_events) == ["event #3 is missing"]
    assert verify(five_events).events == 4


def test_deleted_events_are_reported_as_a_range(five_events: Path) -> None:
    tamper(five_events, "DELETE FROM events WHERE seq BETWEEN 2 AND 4")
    assert problems_of(five_events) == ["events #2 to #4 are missing"]


def test_a_deleted_first_event_is_reported_missing(five_events: Path) -> None:
    tamper(five_events, "DELETE FROM events WHERE seq = 1")
    assert problems_of(five_events) == ["event #1 is missing"]


def test_events_deleted_from_the_end_are_reported_by_the_head(five_events: Path) -> None:
    tamper(five_events, "DELETE FROM events WHERE seq >= 4")
    assert problems_of(five_events) == ["events #4 to #5 are missing from the end (2 events)"]


def test_every_event_deleted_is_reported_by_the_head(five_events: Path) -> None:
    tamper(five_events, "DELETE FROM events")
    assert problems_of(five_events) == ["events #1 to #5 are missing from the end (5 events)"]


def test_an_event_added_behind_the_journals_back_is_reported(five_events: Path) -> None:
    with closing(sqlite3.connect(five_events, isolation_level=None)) as db:
        db.execute(
            "INSERT INTO events SELECT 6, stream, kind, at, operator, host, ssh_client, pid,"
            " data, hash, hash FROM events WHERE seq = 5"
        )
    [problem, *_] = problems_of(five_events)
    assert problem == (
        "event #6 (incident/1, kind5) was altered: its content does not match its hash"
    )
    assert problems_of(five_events)[-1] == (
        "event #6 is after the chain head: added to the file outside the journal"
    )


def test_a_journal_stripped_of_its_tables_is_tampered(five_events: Path) -> None:
    tamper(five_events, "DROP TABLE chain_head")
    assert problems_of(five_events) == [
        "the chain head is missing: events removed from the end would go unseen"
    ]
    tamper(five_events, "DROP TABLE events", restore_triggers=False)
    assert problems_of(five_events) == [
        "trigger events_refuse_update is missing: events could have been changed in place",
        "trigger events_refuse_delete is missing: events could have been changed in place",
        "the events table is missing: every event was removed",
    ]


# -- the guards ----------------------------------------------------------------------------


def test_missing_triggers_are_reported(five_events: Path) -> None:
    tamper(five_events, restore_triggers=False)
    assert problems_of(five_events) == [
        "trigger events_refuse_update is missing: events could have been changed in place",
        "trigger events_refuse_delete is missing: events could have been changed in place",
    ]


def test_a_trigger_replaced_by_one_that_does_nothing_is_reported(five_events: Path) -> None:
    tamper(
        five_events,
        "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events BEGIN SELECT 1; END",
        restore_triggers=False,
    )
    problems = problems_of(five_events)
    assert "trigger events_refuse_update is altered: events could have been changed in place" in (
        problems
    )


# -- unreadable ----------------------------------------------------------------------------


def test_verify_never_creates_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / JOURNAL_FILE
    with pytest.raises(JournalError, match=r"there is no journal at .* yet") as refused:
        verify(path)
    assert str(path) in str(refused.value)
    assert not path.parent.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(JournalError):
        verify(tmp_path / "empty" / JOURNAL_FILE)
    assert list((tmp_path / "empty").iterdir()) == []


def test_verify_refuses_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(JournalError, match="not a SQLite database") as refused:
        verify(path)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == b"\x00garbage" * 1000


def test_verify_refuses_a_journal_from_a_newer_version(five_events: Path) -> None:
    with closing(sqlite3.connect(five_events)) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(JournalError, match="newer lessay-console"):
        verify(five_events)


def test_verify_reads_a_journal_in_a_directory_nobody_can_write(
    five_events: Path, make_unwritable
) -> None:
    make_unwritable(five_events.parent)
    report = verify(five_events)
    assert report.ok, report.problems
    assert report.events == 5


def test_verify_reads_while_a_console_holds_the_journal_open(
    journal: Journal, journal_file: Path
) -> None:
    journal.append("run/a", "note", {"n": 1})
    with closing(sqlite3.connect(journal_file, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # a write in progress elsewhere
        report = verify(journal_file)
        other.execute("ROLLBACK")
    assert report.ok
    assert report.events == 1
    journal.append("run/a", "note", {"n": 2})  # and the console can go on writing
    assert verify(journal_file).events == 2


# -- the hash over any data ------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",))), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@given(json_objects)
def test_the_canonical_form_survives_a_round_trip_through_json(data: dict) -> None:
    text = canonical_json(data)
    assert canonical_json(json.loads(text)) == text
    fields = (1, "0" * 64, "s", "k", AT, "op", "host", None, 7)
    assert event_hash(*fields, json.loads(text)) == event_hash(*fields, data)
    expected = hashlib.sha256(canonical_json([*fields, data]).encode()).hexdigest()
    assert event_hash(*fields, data) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_objects, min_size=1, max_size=4))
def test_any_json_data_reads_back_equal_and_verifies(batches: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / JOURNAL_FILE
        with Journal.open(path, Operator("ö", "h", None)) as journal:
            appended = [journal.append("s", "k", data) for data in batches]
            assert journal.events() == appended
        report = verify(path)
        assert report.ok, report.problems
        assert report.events == len(batches)


# -- the command -----------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_journal_verify_exits_0_for_an_intact_chain(five_events: Path) -> None:
    code, out, err = run_cli("--state-dir", str(five_events.parent), "journal", "verify")
    assert (code, err) == (0, "")
    assert (
        out == f"journal {five_events}: 5 events, chain intact (last #5 at 2026-11-30 14:23:10Z)\n"
    )


def test_journal_verify_exits_2_when_events_were_altered_or_removed(five_events: Path) -> None:
    tamper(
        five_events,
        "DELETE FROM events WHERE seq = 2",
        "UPDATE events SET kind = 'x' WHERE seq = 4",
    )
    code, out, _ = run_cli("--state-dir", str(five_events.parent), "journal", "verify")
    assert code == 2
    assert out.splitlines() == [
        f"journal {five_events}: 4 events, 2 problems:",
        "  event #2 is missing",
        "  event #4 (incident/1, x) was altered: its content does not match its hash",
    ]


def test_journal_verify_exits_3_when_there_is_no_journal(tmp_path: Path) -> None:
    code, out, err = run_cli("--state-dir", str(tmp_path / "none"), "journal", "verify")
    assert code == 3
    assert out == ""
    assert err == f"lessay-console: there is no journal at {tmp_path / 'none' / JOURNAL_FILE} yet\n"


def test_journal_verify_exits_3_for_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    (tmp_path / JOURNAL_FILE).write_text("hello")
    code, _, err = run_cli("--state-dir", str(tmp_path), "journal", "verify")
    assert code == 3
    assert str(tmp_path / JOURNAL_FILE) in err
    assert "Traceback" not in err


def test_journal_verify_finds_the_state_dir_from_the_environment(five_events: Path) -> None:
    code, out, _ = run_cli(
        "journal", "verify", env={"LESSAY_CONSOLE_STATE_DIR": str(five_events.parent)}
    )
    assert code == 0
    assert str(five_events) in out


def test_journal_verify_defaults_to_the_user_state_dir(isolated_dirs: Path) -> None:
    code, _, err = run_cli("journal", "verify")
    expected = isolated_dirs / "home/.local/state/lessay-console" / JOURNAL_FILE
    assert code == 3
    assert str(expected) in err
    assert not expected.parent.exists()


def test_journal_verify_as_installed(five_events: Path) -> None:
    """The exit statuses reach the shell through the real entry point."""
    command = [sys.executable, "-m", "lessay_console", "--state-dir", str(five_events.parent)]
    intact = subprocess.run(
        [*command, "journal", "verify"],
        capture_output=True,
        text=True,
        env=console_env(),
        timeout=60,
        check=False,
    )
    assert intact.returncode == 0, intact.stderr
    tamper(five_events, "DELETE FROM events WHERE seq = 5")
    tampered = subprocess.run(
        [*command, "journal", "verify"],
        capture_output=True,
        text=True,
        env=console_env(),
        timeout=60,
        check=False,
    )
    assert tampered.returncode == 2, tampered.stderr
    assert "event #5 is missing from the end (1 event)" in tampered.stdout
