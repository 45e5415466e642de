"""The directory catalog: the naming rule, modification times, what is left alone."""

from __future__ import annotations

import os
from pathlib import Path

from lessay_console.backups.directory import read_directory
from lessay_console.config.defaults import BACKUP_NAMES
from lessay_console.demo.backups import create_backups

WALL = 1_741_000_000.0  # 2025-03-03 11:06:40 UTC


def touch(directory: Path, name: str, mtime: float, size: int = 10) -> Path:
    path = directory / name
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_the_demo_directory_read_with_the_embedded_rule(tmp_path: Path) -> None:
    tmp_path = tmp_path / "backups"  # beside the home and work dirs every test has
    written = create_backups(tmp_path, WALL)
    (tmp_path / "README").write_text("not a backup")
    (tmp_path / "lessay-db-full-20250303.dump.partial").write_text("being written")
    read = read_directory(tmp_path, BACKUP_NAMES)
    assert read.ok and read.problems == ()
    assert read.ignored == 2
    kinds = {b.kind for b in read.backups}
    assert kinds == {"db_hourly", "db_full", "files_incremental", "config_export"}
    by_name = {b.name: b for b in read.backups}
    assert len(by_name) == len(written)
    for file in written:
        backup = by_name[file.path.name]
        assert backup.finished_at == file.finished.timestamp()  # the modification time
        assert backup.size == file.size and backup.good


def test_an_empty_file_is_listed_as_not_good(tmp_path: Path) -> None:
    touch(tmp_path, "lessay-db-full-20250303.dump", WALL, size=0)
    (backup,) = read_directory(tmp_path, BACKUP_NAMES).backups
    assert not backup.good and backup.why_not == "empty file (0 bytes)"


def test_a_custom_rule_and_directories_as_backups(tmp_path: Path) -> None:
    tmp_path = tmp_path / "backups"
    tmp_path.mkdir()
    (tmp_path / "base-2025-03-03").mkdir()
    touch(tmp_path, "files-2025-03-03.tar", WALL)
    touch(tmp_path, "lessay-db-full-20250303.dump", WALL)  # not in this rule
    read = read_directory(tmp_path, {"db_full": r"^base-", "files_incremental": r"\.tar$"})
    assert sorted((b.kind, b.name, b.size is None) for b in read.backups) == [
        ("db_full", "base-2025-03-03", True),
        ("files_incremental", "files-2025-03-03.tar", False),
    ]
    assert read.ignored == 1


def test_a_missing_or_unlistable_directory_is_an_error(tmp_path: Path) -> None:
    missing = read_directory(tmp_path / "nope", BACKUP_NAMES)
    assert missing.error == f"backup directory {tmp_path / 'nope'} does not exist"
    assert missing.kinds == set(BACKUP_NAMES)
    file = touch(tmp_path, "file", WALL)
    assert read_directory(file, BACKUP_NAMES).error == f"{file} is not a directory"


def test_a_dangling_link_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    touch(tmp_path, "lessay-db-full-20250302.dump", WALL)
    (tmp_path / "lessay-db-full-20250303.dump").symlink_to(tmp_path / "gone")
    read = read_directory(tmp_path, BACKUP_NAMES)
    assert read.ok
    assert [b.name for b in read.backups] == ["lessay-db-full-20250302.dump"]
    assert read.problems == ("lessay-db-full-20250303.dump: a link to nothing",)
