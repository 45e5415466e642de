"""The source protocol and the poller that runs one source on its own schedule.

A poller never overlaps polls: the next one starts `interval` after the last
one started, or as soon as it ended when it ran over (dolphie's rule). Each
poll is cut at the source's timeout. Whatever happens, a poll ends in a
`PollReport`; nothing raises out of a poller but cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lessay_console.redaction import redact
from lessay_console.samples import Collected, Sample, SourceFailure

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str  # unique among the configured sources, e.g. "host", "scrape", "postgres"
    interval: float  # seconds between poll starts
    timeout: float  # a poll is cut after this many seconds

    async def collect(self) -> Collected:
        """Measure once. Raise SourceFailure when nothing could be measured."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class PollReport:
    source: str
    started: float  # wall-clock time the poll began: the samples' timestamp
    duration: float
    samples: tuple[Sample, ...] = ()
    error: SourceFailure | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


async def poll_once(source: Source, clock: Callable[[], float] = time.time) -> PollReport:
    """One poll, cut at the source's timeout, always ending in a report."""
    started = clock()
    begun = time.monotonic()
    try:
        async with asyncio.timeout(source.timeout):
            collected = await source.collect()
    except TimeoutError:
        error = SourceFailure("timeout", f"no answer within {source.timeout:g}s")
    except SourceFailure as failure:
        error = SourceFailure(failure.kind, redact(failure.message))
    except Exception as unexpected:  # a bug must not stop the other sources
        log.exception("source %s failed unexpectedly", source.name)
        error = SourceFailure("internal", redact(f"{type(unexpected).__name__}: {unexpected}"))
    else:
        return PollReport(
            source.name,
            started,
            time.monotonic() - begun,
            collected.samples,
            problems=collected.problems,
            notes=collected.notes,
        )
    return PollReport(source.name, started, time.monotonic() - begun, error=error)


async def run_poller(
    source: Source, deliver: Callable[[PollReport], None], clock: Callable[[], float] = time.time
) -> None:
    """Poll `source` until cancelled, handing every report to `deliver`."""
    while True:
        begun = time.monotonic()
        deliver(await poll_once(source, clock))
        elapsed = time.monotonic() - begun
        await asyncio.sleep(max(0.0, source.interval - elapsed))
