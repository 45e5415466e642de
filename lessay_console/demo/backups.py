"""A backup directory as the maintenance guide's schedule (section 4.1) leaves it.

A flat directory, one file per backup, named by kind and date (the regexes in
:data:`BACKUP_PATTERNS` are the naming rule, for the catalog that reads it):

* ``lessay-db-hourly-YYYYMMDDTHHMMZ.dump``: every hour at :05, kept 7 days;
* ``lessay-db-full-YYYYMMDD.dump``: daily at 02:00 UTC, kept 30 days;
* ``lessay-files-incr-YYYYMMDD.tar.zst``: daily at 03:00 UTC, kept 14 days;
* ``lessay-config-YYYY-Www.tar.gz``: weekly, Monday 04:00 UTC, 8 kept.

Dated by the demo's wall clock at start; each file's mtime is when its backup
finished. Sizes are realistic but the files are sparse (``os.truncate``), so
no disk is used. Exactly one backup is missing: the hourly snapshot scheduled
nearest to :data:`HOURLY_GAP_AGE` (5 hours) before start, the gap the recovery
runbook's "Identify last known good backup" has to notice.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOURLY_PATTERN = re.compile(r"^lessay-db-hourly-(?P<stamp>\d{8}T\d{4}Z)\.dump$")
FULL_PATTERN = re.compile(r"^lessay-db-full-(?P<stamp>\d{8})\.dump$")
FILES_PATTERN = re.compile(r"^lessay-files-incr-(?P<stamp>\d{8})\.tar\.zst$")
CONFIG_PATTERN = re.compile(r"^lessay-config-(?P<stamp>\d{4}-W\d{2})\.tar\.gz$")
#: The naming rule, per kind: the ``stamp`` group dates the backup (UTC).
BACKUP_PATTERNS: dict[str, re.Pattern[str]] = {
    "db-hourly": HOURLY_PATTERN,
    "db-full": FULL_PATTERN,
    "files-incr": FILES_PATTERN,
    "config": CONFIG_PATTERN,
}
# ``strptime`` formats of each kind's ``stamp`` group.
_STAMP_FORMATS = {
    "db-hourly": "%Y%m%dT%H%MZ",
    "db-full": "%Y%m%d",
    "files-incr": "%Y%m%d",
    "config": "%G-W%V-%u",
}
#: The missing hourly snapshot is the one scheduled nearest to this long before start.
HOURLY_GAP_AGE = timedelta(hours=5)


@dataclass(frozen=True)
class BackupKind:
    """One line of the schedule: when a kind runs, how many are kept, how big and long."""

    name: str
    period: timedelta
    first_slot: timedelta
    """Offset of a scheduled run from the start of its period (hour, day or ISO week)."""
    retained: int
    duration: tuple[float, float]
    """Seconds a run takes (min, max): the file's mtime is its start plus this."""
    size: tuple[int, int]
    """Apparent size in bytes (min, max)."""
    name_format: str


BACKUP_KINDS: dict[str, BackupKind] = {
    kind.name: kind
    for kind in (
        BackupKind(
            name="db-hourly",
            period=timedelta(hours=1),
            first_slot=timedelta(minutes=5),
            retained=7 * 24,
            duration=(90, 240),
            size=(1_150_000_000, 1_300_000_000),
            name_format="lessay-db-hourly-{:%Y%m%dT%H%MZ}.dump",
        ),
        BackupKind(
            name="db-full",
            period=timedelta(days=1),
            first_slot=timedelta(hours=2),
            retained=30,
            duration=(1500, 2700),
            size=(9_000_000_000, 9_800_000_000),
            name_format="lessay-db-full-{:%Y%m%d}.dump",
        ),
        BackupKind(
            name="files-incr",
            period=timedelta(days=1),
            first_slot=timedelta(hours=3),
            retained=14,
            duration=(600, 1500),
            size=(150_000_000, 650_000_000),
            name_format="lessay-files-incr-{:%Y%m%d}.tar.zst",
        ),
        BackupKind(
            name="config",
            period=timedelta(weeks=1),
            first_slot=timedelta(hours=4),
            retained=8,
            duration=(20, 60),
            size=(1_500_000, 2_500_000),
            name_format="lessay-config-{:%G-W%V}.tar.gz",
        ),
    )
}


@dataclass(frozen=True)
class BackupFile:
    """One backup written to the directory."""

    kind: str
    path: Path
    scheduled: datetime
    finished: datetime
    size: int


def _period_start(kind: BackupKind, moment: datetime) -> datetime:
    if kind.period == timedelta(hours=1):
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind.period == timedelta(weeks=1):
        return day - timedelta(days=day.weekday())
    return day


def _run(kind: BackupKind, scheduled: datetime, seed: int) -> tuple[float, int]:
    """Duration and size of the run at ``scheduled``: seeded per file, so stable."""
    rng = random.Random(f"{seed}:{kind.name}:{scheduled.isoformat()}")  # noqa: S311 - not security
    return rng.uniform(*kind.duration), rng.randint(*kind.size)


def _latest_finished(kind: BackupKind, now: datetime, seed: int) -> datetime:
    """The schedule slot of the most recent run of ``kind`` that had finished by ``now``."""
    slot = _period_start(kind, now) + kind.first_slot
    while slot > now or slot + timedelta(seconds=_run(kind, slot, seed)[0]) > now:
        slot -= kind.period
    return slot


def hourly_gap(now: datetime) -> datetime:
    """When the missing hourly snapshot was scheduled, for a directory made at ``now``."""
    kind = BACKUP_KINDS["db-hourly"]
    target = now - HOURLY_GAP_AGE
    slot = _period_start(kind, target) + kind.first_slot
    return min((slot - kind.period, slot, slot + kind.period), key=lambda s: abs(s - target))


def plan_backups(now: datetime, seed: int = 1) -> list[tuple[BackupKind, datetime, float, int]]:
    """Every backup to write, newest first per kind: (kind, scheduled, duration, size)."""
    gap = hourly_gap(now)
    plan = []
    for kind in BACKUP_KINDS.values():
        latest = _latest_finished(kind, now, seed)
        for index in range(kind.retained):
            scheduled = latest - index * kind.period
            if kind.name == "db-hourly" and scheduled == gap:
                continue
            duration, size = _run(kind, scheduled, seed)
            plan.append((kind, scheduled, duration, size))
    return plan


def parse_backup_name(name: str) -> tuple[str, datetime] | None:
    """The kind and UTC date a file name encodes, or None if it is not a backup.

    The date is what the name holds: the scheduled minute for hourly snapshots,
    the day (00:00) for daily kinds, the ISO week's Monday (00:00) for config.
    """
    for kind, pattern in BACKUP_PATTERNS.items():
        match = pattern.match(name)
        if match:
            stamp = match["stamp"] + ("-1" if kind == "config" else "")
            parsed = datetime.strptime(stamp, _STAMP_FORMATS[kind]).replace(tzinfo=UTC)
            return kind, parsed
    return None


def create_backups(directory: Path, now: float, seed: int = 1) -> list[BackupFile]:
    """Fill ``directory`` with the catalog as of epoch ``now``; returns what was written.

    Files from an earlier run that follow the naming rule are removed first, so
    a reused data dir holds one consistent catalog; other files are left alone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if any(pattern.match(entry.name) for pattern in BACKUP_PATTERNS.values()):
            entry.unlink()
    moment = datetime.fromtimestamp(now, tz=UTC)
    written = []
    for kind, scheduled, duration, size in plan_backups(moment, seed):
        path = directory / kind.name_format.format(scheduled)
        finished = scheduled + timedelta(seconds=duration)
        path.touch()
        os.truncate(path, size)  # sparse: the size is apparent, no blocks are written
        os.utime(path, (finished.timestamp(), finished.timestamp()))
        written.append(BackupFile(kind.name, path, scheduled, finished, size))
    return written
