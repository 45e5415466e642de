"""What a recovery could start from: the catalog's database backups, newest first.

For the recovery runbook's "Identify last known good backup": every backup of
the database kinds (hourly snapshots and daily fulls, by default), each with
the reason it is, or is not, a candidate. A backup not good, or dated in the
future (a clock is off: its date cannot be trusted), stays in the list, marked
not usable, so that the operator sees why it was passed over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from lessay_console.backups.catalog import Backup, Catalog, read_catalog
from lessay_console.backups.compliance import FUTURE_TOLERANCE
from lessay_console.config.durations import format_age
from lessay_console.config.model import Config

DATABASE_KINDS = ("db_hourly", "db_full")


class CatalogUnavailable(Exception):
    """No catalog is configured, or none of its sources could be read."""


@dataclass(frozen=True)
class Candidate(Backup):
    """A backup as a recovery candidate: why it is (or is not) one."""

    reason: str = ""
    usable: bool = True


async def last_good_candidates(
    config: Config,
    *,
    kinds: Sequence[str] = DATABASE_KINDS,
    clock: Callable[[], float] = time.time,
) -> list[Candidate]:
    """The backups of `kinds`, newest first, each with its reason.

    Raises `CatalogUnavailable` (its message says why) when nothing could be read.
    A source that failed while others were read lists nothing here; `check_backups`
    says which, and why.
    """
    catalog = await read_catalog(config.backups)
    if not catalog.reads:
        raise CatalogUnavailable(
            "no backup catalog configured: set [backups] directory, "
            "[backups.pgbackrest] or [backups.walg]"
        )
    if not catalog.readable:
        raise CatalogUnavailable("; ".join(f"{r.source}: {r.error}" for r in catalog.reads))
    return candidates_from(catalog, kinds, clock())


def candidates_from(catalog: Catalog, kinds: Sequence[str], now: float) -> list[Candidate]:
    """The candidates among `catalog`'s backups at `now` (pure)."""
    backups = sorted(
        (b for b in catalog.backups if b.kind in kinds),
        key=lambda b: b.finished_at,
        reverse=True,
    )
    candidates, newest_seen = [], False
    for backup in backups:
        if backup.finished_at > now + FUTURE_TOLERANCE:
            ahead = format_age(backup.finished_at - now)
            reason, usable = f"dated {ahead} in the future: a clock is off, not trusted", False
        elif not backup.good:
            reason, usable = f"not good: {backup.why_not}", False
        else:
            age = format_age(max(0.0, now - backup.finished_at))
            origin = backup.source + (f", {backup.backup_type}" if backup.backup_type else "")
            reason, usable = f"good {backup.kind} backup ({origin}), {age} old", True
            if not newest_seen:
                reason += "; the newest good one"
                newest_seen = True
        values = {f.name: getattr(backup, f.name) for f in fields(Backup)}
        candidates.append(Candidate(**values, reason=reason, usable=usable))
    return candidates
