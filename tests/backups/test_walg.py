"""WAL-G as a catalog: its documented `backup-list --json --detail` format, and a stand-in run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lessay_console.backups.walg import backup_type, go_time, parse_walg_backup_list, read_walg
from lessay_console.config.defaults import WALG_KINDS
from lessay_console.config.model import WalgCatalog

FIXTURES = Path(__file__).parent / "fixtures"


def epoch(*parts: int, micro: int = 0) -> float:
    return datetime(*parts, micro, tzinfo=UTC).timestamp()  # type: ignore[misc]


def fixture(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def test_the_documented_answer_lists_fulls_and_deltas() -> None:
    read = parse_walg_backup_list(fixture("walg_backup_list.json"), WALG_KINDS)
    assert read.ok and read.problems == ()
    full, first, second = read.backups
    assert (full.kind, full.backup_type) == ("db_full", "full, permanent")
    assert (first.kind, first.backup_type) == ("db_hourly", "delta")
    assert full.finished_at == epoch(2024, 3, 3, 2, 40, 58, micro=901234)  # nanoseconds cut
    assert full.started_at == epoch(2024, 3, 3, 2, 0, 1, micro=223814)
    assert (full.size, full.stored_size) == (9_412_558_336, 2_118_432_113)
    # "+01:00": the same instant in UTC
    assert second.finished_at == epoch(2024, 3, 3, 4, 6, 55)
    assert all(b.good and b.source == "wal-g" for b in read.backups)


def test_a_partial_answer_keeps_what_it_can() -> None:
    read = parse_walg_backup_list(fixture("walg_backup_list_partial.json"), WALG_KINDS)
    assert [b.name for b in read.backups] == [
        "base_000000010000000A000000C2",
        "base_000000010000000A00000101",
    ]
    old = read.backups[1]  # Go's zero time in its metadata: the storage's time stands in
    assert old.finished_at == epoch(2024, 3, 3, 5, 1, 0)
    assert old.started_at is None and old.size is None
    assert read.problems == (
        "backup entry 1 (base_000000010000000A000000E4_D_000000010000000A000000C2): "
        "finish_time 'yesterday' is not a time; left out",
        "backup entry 2 (no name): no backup_name; left out",
    )


@pytest.mark.parametrize(
    ("document", "error"), [({}, "not a list of backups"), ("[]", "not a list of backups")]
)
def test_malformed_answers_are_errors(document: object, error: str) -> None:
    assert error in (parse_walg_backup_list(document, WALG_KINDS).error or "")


def test_an_empty_list_is_no_backup() -> None:
    read = parse_walg_backup_list([], WALG_KINDS)
    assert read.ok and read.backups == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-03T02:40:58Z", epoch(2024, 3, 3, 2, 40, 58)),
        ("2024-03-03T02:40:58.5Z", epoch(2024, 3, 3, 2, 40, 58, micro=500000)),
        ("2024-03-03T03:40:58.123456789+01:00", epoch(2024, 3, 3, 2, 40, 58, micro=123456)),
        ("0001-01-01T00:00:00Z", None),
        (None, None),
    ],
)
def test_go_times(text: str | None, expected: float | None) -> None:
    assert go_time(text, "t") == expected


@pytest.mark.parametrize("text", ["2024-03-03", "2024-13-03T02:40:58Z", "yesterday", 17])
def test_not_go_times(text: object) -> None:
    with pytest.raises(ValueError, match="is not a time"):
        go_time(text, "t")


def test_delta_names() -> None:
    assert backup_type("base_000000010000000A000000E4_D_000000010000000A000000C2") == "delta"
    assert backup_type("base_000000010000000A000000C2") == "full"


def stand_in(tmp_path: Path, body: str) -> tuple[str, ...]:
    """A stand-in for wal-g (not packaged here) that prints as WAL-G does."""
    script = tmp_path / "wal-g"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return (str(script),)


async def test_a_run_gets_its_arguments_and_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "walg.env"
    env_file.write_text(
        "# storage\nexport WALG_FILE_PREFIX=/backups/walg\nAWS_SECRET_ACCESS_KEY='s3cr3t'\n\n"
    )
    body = (
        'test "$*" = "backup-list --json --detail" || exit 9\n'
        'test "$WALG_FILE_PREFIX" = /backups/walg || exit 8\n'
        'test "$AWS_SECRET_ACCESS_KEY" = s3cr3t || exit 7\n'
        f"cat {FIXTURES / 'walg_backup_list_with_log.txt'}"
    )
    catalog = WalgCatalog(command=stand_in(tmp_path, body), env_file=env_file)
    read = await read_walg(catalog, 5)
    assert read.ok, read.error
    assert len(read.backups) == 3


async def test_no_backups_found_is_an_empty_catalog(tmp_path: Path) -> None:
    body = f"cat {FIXTURES / 'walg_no_backups.txt'} >&2"
    read = await read_walg(WalgCatalog(command=stand_in(tmp_path, body)), 5)
    assert read.ok and read.backups == ()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (f"cat {FIXTURES / 'walg_truncated.txt'}", "wal-g printed incomplete JSON"),
        ("echo 'ERROR: 2024/03/03 04:10:01 failed to list s3 folder' >&2; exit 1", "exited 1"),
        ("exit 0", "wal-g printed nothing"),
    ],
)
async def test_broken_runs_are_errors(tmp_path: Path, body: str, error: str) -> None:
    read = await read_walg(WalgCatalog(command=stand_in(tmp_path, body)), 5)
    assert read.error is not None and error in read.error, read.error


async def test_a_bad_env_file_is_named_without_its_values(tmp_path: Path) -> None:
    env_file = tmp_path / "walg.env"
    env_file.write_text("WALG_OK=1\nthis line has a s3cr3t in it\n")
    catalog = WalgCatalog(command=stand_in(tmp_path, "exit 0"), env_file=env_file)
    read = await read_walg(catalog, 5)
    assert read.error == f"env_file {env_file}:2: not a KEY=VALUE line"
    missing = WalgCatalog(command=("wal-g",), env_file=tmp_path / "nope.env")
    assert "cannot read env_file" in ((await read_walg(missing, 5)).error or "")
