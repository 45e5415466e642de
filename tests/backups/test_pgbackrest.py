"""pgBackRest as a catalog: its real answers on fixtures, and a real repository read for real."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lessay_console.backups.catalog import read_catalog
from lessay_console.backups.pgbackrest import (
    parse_pgbackrest_info,
    pgbackrest_argv,
    read_pgbackrest,
)
from lessay_console.config.defaults import PGBACKREST_KINDS
from lessay_console.config.model import BackupsConfig, PgBackRestCatalog
from tests.backups.pgbackrest_cluster import PgBackRestCluster

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def test_a_real_answer_lists_each_backup_with_its_kind_type_size_and_times() -> None:
    read = parse_pgbackrest_info(fixture("pgbackrest_info.json"), "main", PGBACKREST_KINDS)
    assert read.ok and read.problems == ()
    assert read.kinds == {"db_full", "db_hourly"}
    summary = [(b.name, b.backup_type, b.kind) for b in read.backups]
    assert summary == [
        ("20261130-010214F", "full", "db_full"),
        ("20261130-010214F_20261130-010217I", "incr", "db_hourly"),
        ("20261130-010214F_20261130-010720D", "diff", "db_hourly"),
    ]
    full = read.backups[0]
    assert (full.started_at, full.finished_at) == (1796000534, 1796000537)
    assert (full.size, full.stored_size) == (22992374, 3043376)
    assert full.good and full.source == "pgbackrest"


def test_the_kind_mapping_is_the_configs() -> None:
    kinds = {**PGBACKREST_KINDS, "diff": "db_full"}
    read = parse_pgbackrest_info(fixture("pgbackrest_info.json"), "main", kinds)
    assert [b.kind for b in read.backups] == ["db_full", "db_hourly", "db_full"]


def test_a_stanza_without_backups_is_read_as_empty() -> None:
    read = parse_pgbackrest_info(
        fixture("pgbackrest_info_no_backups.json"), "main", PGBACKREST_KINDS
    )
    assert read.ok and read.backups == () and read.problems == ()


def test_a_missing_stanza_is_an_error_with_pgbackrests_words() -> None:
    read = parse_pgbackrest_info(
        fixture("pgbackrest_info_missing_stanza.json"), "other", PGBACKREST_KINDS
    )
    assert read.error == "stanza other: missing stanza path (status 1)"


def test_a_stanza_not_in_the_answer_is_named() -> None:
    read = parse_pgbackrest_info(fixture("pgbackrest_info.json"), "prod", PGBACKREST_KINDS)
    assert read.error == "stanza 'prod' is not in pgbackrest's answer (main)"


def test_a_partial_answer_keeps_what_it_can_and_notes_the_rest() -> None:
    read = parse_pgbackrest_info(fixture("pgbackrest_info_partial.json"), "main", PGBACKREST_KINDS)
    assert read.ok
    assert [b.name for b in read.backups] == [
        "20261130-010214F",
        "20261130-010214F_20261130-010720D",
    ]
    flagged = read.backups[1]
    assert not flagged.good and "errors in the files it copied" in flagged.why_not
    assert read.problems == (
        "stanza main: a backup or expire is running",
        "backup entry 1 (20261130-010214F_20261130-010217I): no timestamp.stop; left out",
        "backup entry 3 (no label): not an object; left out",
        "backup entry 4 (20261130-010300F): type 'weird' is none of full, diff, incr; left out",
    )


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"name": "main"}, "not a list of stanzas"),
        ([], "stanza 'main' is not in pgbackrest's answer (none)"),
        ([{"name": "main", "status": {"code": 99, "message": "other"}}], "other (status 99)"),
    ],
)
def test_malformed_answers_are_errors(document: object, error: str) -> None:
    read = parse_pgbackrest_info(document, "main", PGBACKREST_KINDS)
    assert read.error is not None and error in read.error


def test_the_argv_names_the_stanza_and_the_config() -> None:
    catalog = PgBackRestCatalog(stanza="prod", config=Path("/etc/pgbackrest/p.conf"))
    assert pgbackrest_argv(catalog) == [
        "pgbackrest",
        "--config=/etc/pgbackrest/p.conf",
        "--stanza=prod",
        "info",
        "--output=json",
    ]


def _script(tmp_path: Path, body: str) -> tuple[str, ...]:
    """A stand-in for pgbackrest that prints `body` (a real program, run as pgbackrest is)."""
    script = tmp_path / "pgbackrest"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return (str(script),)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("exit 0", "pgbackrest printed nothing"),
        ("echo 'ERROR: [055]: unable to open missing file' >&2; exit 55", "exited 55: ERROR"),
        (f"cat {FIXTURES / 'pgbackrest_info_truncated.txt'}", "incomplete JSON (cut short?)"),
        ("echo 'P00   WARN: something'", "printed no JSON: 'P00   WARN: something'"),
        ("exec sleep 30", "did not finish within 0.3s and was stopped"),
    ],
)
async def test_empty_failing_cut_and_hanging_tools_give_a_clear_error(
    tmp_path: Path, body: str, error: str
) -> None:
    catalog = PgBackRestCatalog(command=_script(tmp_path, body))
    began = time.monotonic()
    read = await read_pgbackrest(catalog, 0.3)
    assert read.error is not None and error in read.error, read.error
    assert time.monotonic() - began < 5  # a hanging tool is killed at its timeout


async def test_a_missing_program_is_named(tmp_path: Path) -> None:
    catalog = PgBackRestCatalog(command=(str(tmp_path / "no-pgbackrest"),))
    read = await read_pgbackrest(catalog, 5)
    assert read.error is not None and "not found" in read.error


async def test_log_lines_around_the_json_are_passed_over(tmp_path: Path) -> None:
    body = f"echo 'P00   WARN: repo1: slow'; cat {FIXTURES / 'pgbackrest_info.json'}"
    read = await read_pgbackrest(PgBackRestCatalog(command=_script(tmp_path, body)), 5)
    assert read.ok and len(read.backups) == 3


async def test_a_real_repository_read_through_the_catalog(
    pgbackrest_cluster: PgBackRestCluster,
) -> None:
    """The real `pgbackrest info --output=json` of a full and an incremental backup."""
    cluster = pgbackrest_cluster
    config = BackupsConfig(
        pgbackrest=PgBackRestCatalog(stanza=cluster.stanza, config=cluster.config)
    )
    catalog = await read_catalog(config)
    (read,) = catalog.reads
    assert read.ok, read.error
    assert read.source == f"pgbackrest stanza {cluster.stanza}"
    assert read.problems == ()
    full, incr = read.backups
    assert (full.backup_type, full.kind) == ("full", "db_full")
    assert (incr.backup_type, incr.kind) == ("incr", "db_hourly")
    assert incr.name.startswith(full.name + "_") and incr.name.endswith("I")
    assert full.name.endswith("F")
    now = time.time()
    for backup in (full, incr):
        assert backup.good
        assert now - 600 < backup.started_at <= backup.finished_at <= now
        # an initdb'd cluster holds some 20 MB; the repository, compressed, less
        assert 10_000_000 < backup.size < 100_000_000
        assert 0 < backup.stored_size < backup.size
    assert full.finished_at <= incr.started_at


async def test_a_real_repository_of_another_stanza_is_an_error(
    pgbackrest_cluster: PgBackRestCluster,
) -> None:
    catalog = PgBackRestCatalog(stanza="nowhere", config=pgbackrest_cluster.config)
    read = await read_pgbackrest(catalog, 60)
    assert read.error == "stanza nowhere: missing stanza path (status 1)"
