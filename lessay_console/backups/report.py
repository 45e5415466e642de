"""The backups against the schedule, once: the catalog read, each kind judged, replication.

`check_backups` is what `lessay-console backups`, the dashboard's source and
the `backup_freshness` check all start from; `exit_code` follows `status`
(Nagios): 0 OK, 1 WARN, 2 CRIT, and 3 when the catalog cannot be read at all
(no source configured, or none could be read) or a kind's source failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lessay_console.backups.catalog import Catalog, read_catalog
from lessay_console.backups.compliance import KindReport, KindState, assess
from lessay_console.backups.replication import ReplicationReport, check_replication
from lessay_console.config.model import Config

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
CODE_WORDS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
# critical over warning over unknown over OK, as `status` orders them
_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}


def worst_code(codes: Iterable[int]) -> int:
    return max(codes, key=_RANK.__getitem__, default=OK)


@dataclass(frozen=True)
class BackupsReport:
    at: float  # the `now` every age is measured from
    catalog: Catalog
    kinds: tuple[KindReport, ...]
    replication: ReplicationReport

    @property
    def catalog_error(self) -> str | None:
        """Why nothing at all could be judged, when so."""
        if not self.catalog.reads:
            return (
                "no backup catalog configured: set [backups] directory, "
                "[backups.pgbackrest] or [backups.walg]"
            )
        if not self.catalog.readable:
            return "; ".join(f"{r.source}: {r.error}" for r in self.catalog.reads)
        return None

    @property
    def exit_code(self) -> int:
        if self.catalog_error is not None:
            return UNKNOWN
        states = [k.state for k in self.kinds] + [self.replication.state]
        return worst_code(state.exit_code for state in states)

    def kind(self, name: str) -> KindReport:
        return next(k for k in self.kinds if k.kind == name)

    @property
    def watched(self) -> tuple[KindReport, ...]:
        return tuple(k for k in self.kinds if k.state is not KindState.UNWATCHED)


async def check_backups(
    config: Config, *, clock: Callable[[], float] = time.time, replication: bool = True
) -> BackupsReport:
    """Read the catalog (and pg_stat_replication, unless `replication` is False), judge."""
    reading = read_catalog(config.backups)
    if replication:
        catalog, replicas = await asyncio.gather(reading, check_replication(config))
    else:
        catalog = await reading
        replicas = ReplicationReport(
            KindState.UNWATCHED, "not checked here", config.backups.replication_max_lag
        )
    now = clock()  # after reading: ages as of what was just read
    kinds = tuple(assess(config.backups.schedule, catalog, now))
    return BackupsReport(now, catalog, kinds, replicas)
