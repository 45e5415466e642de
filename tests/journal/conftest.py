"""Fixtures of the journal tests: an operator, a journal in the test's state dir, a directory
nobody can write to."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lessay_console.identity import Operator
from lessay_console.journal import JOURNAL_FILE, Journal


@pytest.fixture
def operator() -> Operator:
    return Operator(name="alice", host="bastion-1", ssh_client="203.0.113.7")


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / JOURNAL_FILE


@pytest.fixture
def journal(journal_file: Path, operator: Operator) -> Iterator[Journal]:
    with Journal.open(journal_file, operator) as opened:
        yield opened


@pytest.fixture
def make_unwritable() -> Iterator[Callable[[Path], None]]:
    """Make a directory unwritable, even for root (who ignores permission bits): chattr +i."""
    locked: list[Path] = []

    def lock(directory: Path) -> None:
        if os.geteuid() != 0:
            directory.chmod(0o555)
        else:
            if shutil.which("chattr") is None:
                pytest.skip("running as root without chattr: no directory is unwritable")
            result = subprocess.run(
                ["chattr", "+i", str(directory)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                pytest.skip(f"running as root and chattr +i failed: {result.stderr.strip()}")
        locked.append(directory)
        probe = directory / "probe"
        with pytest.raises(OSError):  # the premise of the tests that use it
            probe.touch()

    yield lock
    for directory in locked:
        if os.geteuid() != 0:
            directory.chmod(0o755)
        else:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
