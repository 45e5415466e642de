"""The backup catalog: which backups exist, read from every source the config names.

Three sources, any of them or all together (DESIGN section 9):

* a directory of backup files, each file's kind given by the naming rule
  (`[backups] names`, the demo's rule by default) and its finish time by its
  modification time; files that follow no rule are counted, not read;
* `pgbackrest info --output=json`: the stanza's backups, full ones as `db_full`,
  differential and incremental ones as `db_hourly` (`[backups.pgbackrest] kinds`);
* `wal-g backup-list --json --detail`: full backups as `db_full`, deltas as
  `db_hourly` (`[backups.walg] kinds`).

Each source gives a `SourceRead`: the backups it listed, the problems that did
not stop it (an entry it could not read, a stanza's status), or the error that
did. Every time is a UTC epoch: no local time, no daylight saving, anywhere here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field

from lessay_console.config.model import BackupsConfig


@dataclass(frozen=True)
class Backup:
    """One backup as a catalog lists it."""

    kind: str  # the schedule key it counts for: db_hourly, db_full, files_incremental, ...
    name: str  # the file name, pgBackRest label or WAL-G backup name
    finished_at: float  # UTC epoch seconds
    size: int | None = None  # bytes it holds: the file's size, the database's size
    good: bool = True
    why_not: str = ""  # why it is not good, when it is not
    source: str = ""  # "directory", "pgbackrest", "wal-g"
    started_at: float | None = None
    backup_type: str = ""  # the tool's own word: full, diff, incr, delta; "" for a file
    stored_size: int | None = None  # bytes in the repository, where the tool says

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "finished_at": self.finished_at,
            "started_at": self.started_at,
            "size": self.size,
            "stored_size": self.stored_size,
            "good": self.good,
            "why_not": self.why_not or None,
            "source": self.source,
            "type": self.backup_type or None,
        }


@dataclass(frozen=True)
class SourceRead:
    """What one catalog source gave."""

    source: str  # "directory /var/backups", "pgbackrest stanza main", "wal-g"
    kinds: frozenset[str]  # the schedule kinds this source catalogs, from the config
    backups: tuple[Backup, ...] = ()
    problems: tuple[str, ...] = ()  # partial failures: the rest was read
    error: str | None = None  # nothing could be read
    ignored: int = 0  # directory entries that follow no naming rule

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Catalog:
    """Every configured source's read, and what they add up to."""

    reads: tuple[SourceRead, ...] = field(default_factory=tuple)

    @property
    def backups(self) -> tuple[Backup, ...]:
        return tuple(b for read in self.reads for b in read.backups)

    @property
    def readable(self) -> bool:
        """At least one source was read: there is something to judge."""
        return any(read.ok for read in self.reads)

    def covers(self, kind: str) -> bool:
        """Some configured source catalogs `kind`."""
        return any(kind in read.kinds for read in self.reads)

    def unread(self, kind: str) -> list[SourceRead]:
        """The sources of `kind` that failed: what is missing from its picture."""
        return [read for read in self.reads if kind in read.kinds and not read.ok]

    def of_kind(self, kind: str) -> list[Backup]:
        return [b for b in self.backups if b.kind == kind]


async def read_catalog(config: BackupsConfig) -> Catalog:
    """Read every configured source, concurrently; each ends in a `SourceRead`."""
    from lessay_console.backups.directory import read_directory
    from lessay_console.backups.pgbackrest import read_pgbackrest
    from lessay_console.backups.walg import read_walg

    reads: list[Awaitable[SourceRead]] = []
    if config.directory is not None:  # file-system calls block: in a thread
        reads.append(asyncio.to_thread(read_directory, config.directory, dict(config.names)))
    if config.pgbackrest is not None:
        reads.append(read_pgbackrest(config.pgbackrest, config.timeout))
    if config.walg is not None:
        reads.append(read_walg(config.walg, config.timeout))
    return Catalog(tuple(await asyncio.gather(*reads)))


def failed(source: str, kinds: Iterable[str], error: str) -> SourceRead:
    """The read of a source that gave nothing."""
    return SourceRead(source, frozenset(kinds), error=error)


def listed(
    source: str,
    kinds: Iterable[str],
    backups: Iterable[Backup],
    problems: Iterable[str] = (),
    ignored: int = 0,
) -> SourceRead:
    """The read of a source that listed backups (perhaps with problems)."""
    return SourceRead(source, frozenset(kinds), tuple(backups), tuple(problems), ignored=ignored)
