"""The backup catalog as a dashboard source: each kind's state against the schedule.

Every `[backups] interval` (5 minutes by default: backups come hourly at
most) the catalog is read and judged as `lessay-console backups` does; each
watched kind gives `backup_state{kind=...}`, 0 OK, 1 WARN, 2 CRIT, and
replication gives `kind="replication"` where it is watched. A kind whose source
failed gives no sample (it goes stale, as any silent series) and a problem;
a catalog that cannot be read at all is a failed poll.
"""

from __future__ import annotations

import time

from lessay_console.backups.compliance import KindState
from lessay_console.backups.report import check_backups
from lessay_console.config.model import Config
from lessay_console.samples import Collected, Sample, SourceFailure, labels_of

LEVELS = {KindState.OK: 0.0, KindState.WARN: 1.0, KindState.CRIT: 2.0}


class BackupsSource:
    name = "backups"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.interval = config.backups.interval
        # every catalog command has `timeout`; the directory and the query take a moment more
        self.timeout = config.backups.timeout + 10.0

    async def collect(self) -> Collected:
        report = await check_backups(self.config, clock=time.time)
        if report.catalog_error is not None:
            raise SourceFailure("invalid", report.catalog_error)
        samples, problems = [], []
        for kind in report.kinds:
            if kind.state in LEVELS:
                labels = labels_of(kind=kind.kind)
                samples.append(Sample("backup_state", LEVELS[kind.state], labels))
            elif kind.state is KindState.UNKNOWN:
                problems.append(f"{kind.kind}: {'; '.join(kind.reasons)}")
        replication = report.replication
        if replication.state in LEVELS:
            samples.append(
                Sample("backup_state", LEVELS[replication.state], labels_of(kind="replication"))
            )
        elif replication.state is KindState.UNKNOWN:
            problems.append(f"replication: {replication.summary}")
        for read in report.catalog.reads:
            problems += [f"{read.source}: {problem}" for problem in read.problems]
        return Collected(tuple(samples), problems=tuple(problems))

    async def close(self) -> None:
        return None
