"""`lessay-console backups`: the demo's catalog and its one gap, JSON, every exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from lessay_console.demo.backups import HOURLY_GAP_AGE, create_backups, hourly_gap
from tests.helpers import console_env

CONSOLE = [sys.executable, "-m", "lessay_console"]
KINDS = ("db_hourly", "db_full", "files_incremental", "config_export")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONSOLE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=console_env(),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        check=False,
    )


def test_the_demo_shows_each_kind_its_last_backup_age_and_the_one_gap() -> None:
    began = time.time()
    result = run("--demo", "backups")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lessay-console backups: WARNING · demo · ")
    table = {line.split()[0]: line.split() for line in lines[3:8]}
    assert table["db_hourly"][1:2] == ["WARN"] and table["db_hourly"][-1] == "1"
    for kind in KINDS[1:]:
        assert table[kind][1] == "OK" and table[kind][-1] == "0", table[kind]
    text = result.stdout
    for kind, name in zip(
        KINDS,
        ("lessay-db-hourly-", "lessay-db-full-", "lessay-files-incr-", "lessay-config-"),
        strict=True,
    ):
        block = text.split(f"\n{kind}: ")[1].split("\n\n")[0]
        assert f"last good:  {name}" in block
        assert " ago" in block and "finished " in block
    gaps = [line for line in lines if line.strip().startswith("gap:")]
    assert len(gaps) == 1 and "1 slot missed, due " in gaps[0]
    # the gap the demo left: the hourly snapshot due about five hours before it started
    due = datetime.strptime(gaps[0].split("due ")[1], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert abs((datetime.fromtimestamp(began, UTC) - due) - HOURLY_GAP_AGE).total_seconds() < 2400
    assert "1 missed slot inside the 7d retention" in text
    assert "Traceback" not in result.stderr


def test_json_for_programs() -> None:
    result = run("--demo", "backups", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["exit_code"], report["error"]) == ("WARNING", 1, None)
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert list(kinds) == list(KINDS)
    hourly = kinds["db_hourly"]
    assert hourly["state"] == "warn" and hourly["missed_slots"] == 1
    (gap,) = hourly["gaps"]
    assert len(gap["slots"]) == 1 and gap["after"] < gap["slots"][0] < gap["before"]
    assert hourly["last_good"]["name"].startswith("lessay-db-hourly-")
    assert 0 <= hourly["last_good"]["age_seconds"] < 2 * 3600
    assert all(kinds[k]["state"] == "ok" and kinds[k]["gaps"] == [] for k in KINDS[1:])
    assert report["replication"]["state"] == "unwatched"
    (source,) = report["sources"]
    assert source["ok"] and source["backups"] == 7 * 24 - 1 + 30 + 14 + 8


def write_config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "console.toml"
    config.write_text(body)
    return config


def test_a_complete_catalog_is_ok(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    now = time.time()
    create_backups(directory, now)
    # the slot the demo leaves out, written: nothing is missing
    gap = hourly_gap(datetime.fromtimestamp(now, UTC))
    filled = directory / f"lessay-db-hourly-{gap:%Y%m%dT%H%MZ}.dump"
    filled.write_bytes(b"x")
    os.utime(filled, (gap.timestamp() + 120, gap.timestamp() + 120))
    config = write_config(tmp_path, f'[backups]\ndirectory = "{directory}"\n')
    result = run("--config", str(config), "backups")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("lessay-console backups: OK")


def test_an_old_catalog_is_critical(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    create_backups(directory, time.time() - 40 * 86400)  # nothing for forty days
    config = write_config(tmp_path, f'[backups]\ndirectory = "{directory}"\n')
    result = run("--config", str(config), "backups", "--json")
    assert result.returncode == 2, result.stdout
    report = json.loads(result.stdout)
    assert {k["state"] for k in report["kinds"]} == {"crit"}


def test_an_unreadable_catalog_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path, f'[backups]\ndirectory = "{tmp_path / "nope"}"\n')
    result = run("--config", str(config), "backups")
    assert result.returncode == 3, result.stdout
    assert f"backup directory {tmp_path / 'nope'} does not exist" in result.stdout
    assert "Traceback" not in result.stderr


def test_no_catalog_configured_exits_3_and_says_what_to_set(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'environment = "staging"\n')
    result = run("--config", str(config), "backups", "--json")
    assert result.returncode == 3
    assert "set [backups] directory" in json.loads(result.stdout)["error"]


def test_hostile_file_names_are_shown_literally(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    directory.mkdir()
    name = "lessay-db-full-\x1b]0;pwned\x07.dump"
    (directory / name).write_bytes(b"x")
    config = write_config(
        tmp_path,
        f'[backups]\ndirectory = "{directory}"\n[backups.names]\ndb_full = "^lessay-db-full-"\n',
    )
    result = run("--config", str(config), "backups")
    assert "\x1b" not in result.stdout and "\\x1b]0;pwned\\x07" in result.stdout


def test_a_bad_backups_section_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[backups]\ninterval = "often"\n')
    result = run("--config", str(config), "backups")
    assert result.returncode == 2
    assert f"{config}:2: backups.interval:" in result.stderr
