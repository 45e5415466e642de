"""The host the console runs on: CPU, memory, disk per watched mount, load average (psutil).

psutil's calls are system calls that can block (a disk on a hung NFS mount
blocks `statvfs` for minutes), so a poll runs in a worker thread: the event
loop never waits on it, and the poller's timeout still ends the poll.
"""

from __future__ import annotations

import asyncio
import os

import psutil

from lessay_console.config.model import HostConfig
from lessay_console.samples import Collected, Sample, labels_of


class HostSource:
    name = "host"

    def __init__(self, config: HostConfig) -> None:
        self.interval = config.interval
        self.timeout = max(1.0, min(config.interval, 10.0))
        self.disks = config.disks
        # cpu_percent(None) compares with the previous call; the first call primes it
        psutil.cpu_percent(None)

    async def collect(self) -> Collected:
        return await asyncio.to_thread(self._measure)

    def _measure(self) -> Collected:
        samples = [
            Sample("host_cpu_percent", psutil.cpu_percent(None)),
            Sample("host_memory_percent", psutil.virtual_memory().percent),
        ]
        load1, load5, load15 = os.getloadavg()
        samples += [
            Sample("host_load", load1, labels_of(period="1m")),
            Sample("host_load", load5, labels_of(period="5m")),
            Sample("host_load", load15, labels_of(period="15m")),
        ]
        problems = []
        for mount in self.disks:
            try:
                usage = psutil.disk_usage(mount)
            except OSError as error:
                problems.append(f"disk {mount}: {error.strerror or error}")
                continue
            samples.append(Sample("host_disk_percent", usage.percent, labels_of(mount=mount)))
        return Collected(tuple(samples), problems=tuple(problems))

    async def close(self) -> None:
        return None
