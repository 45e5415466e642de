"""Reading the application metrics from a Prometheus server (`[prometheus]` configured).

Each poll runs one instant query per metric, concurrently, and returns the
results as samples named `query:METRIC`, one per series the query returned
(error rate by service gives one per service). The first poll, and the first
after the server was unreachable for longer than the staleness window, also
backfills: a range query per metric over the history the rules need, returned
as samples with their own timestamps, so that a "for 5m" rule is judged on
five real minutes at the console's first evaluation.

One metric's query failing (a typo in a configured query) is a problem of the
poll; the poll fails only when no metric could be read. Messages never carry
the bearer token: it travels in a header, and every text quoted from the
server is redacted.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lessay_console.config.model import PrometheusConfig, staleness_of
from lessay_console.samples import Collected, SourceFailure
from lessay_console.sources.http import http_client, http_failure
from lessay_console.sources.prometheus_api import (
    Answer,
    ApiData,
    QueryFailed,
    api_answer,
    read_capped,
    read_instant,
    read_range,
)
from lessay_console.sources.prometheus_queries import queries_for

if TYPE_CHECKING:
    import httpx

# Prometheus refuses a range query of more than 11,000 points per series;
# a margin keeps rounding of the step from tipping over it.
MAX_RANGE_POINTS = 10_000
# The share of the poll's timeout the backfill may take. Past it the history is
# given up, never the current values: a backfill that always overran would
# fail every first poll, and the store cannot take older history afterwards.
BACKFILL_SHARE = 0.8
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True, slots=True)
class RangePlan:
    """The grid of a backfill: evaluation times start, start + step, ..., end."""

    start: float
    end: float
    step: float


def range_plan(now: float, span: float, interval: float) -> RangePlan:
    """A grid over the `span` seconds before `now`, one point per `interval` where allowed.

    The grid is aligned to multiples of the step, so that two backfills
    evaluate at the same times; it ends a step before `now`, because this
    poll's instant query gives the value at `now` and the store keeps each
    series in time order.
    """
    step = max(interval, span / MAX_RANGE_POINTS, 0.001)
    step = math.ceil(step * 1000) / 1000  # whole milliseconds: Prometheus's resolution
    end = math.floor((now - step) / step) * step
    start = end - math.ceil(span / step) * step
    return RangePlan(start, end, step)


class PrometheusSource:
    name = "prometheus"

    def __init__(
        self,
        config: PrometheusConfig,
        window: float,
        backfill: float = 0.0,
        *,
        metrics: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if metrics is None:
            # imported here: the monitor imports this module on demand
            from lessay_console.monitor import APP_METRICS

            metrics = APP_METRICS
        self.base_url = config.url.rstrip("/")
        self.interval = config.interval
        self.timeout = config.timeout
        self.verify_tls = config.verify_tls
        self.staleness = staleness_of(config)
        self.backfill = backfill
        self.queries = queries_for(tuple(metrics), window, config.queries)
        self._token = config.bearer_token.reveal() if config.bearer_token else None
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._last_success: float | None = None
        self.notes = tuple(_notes(metrics, self.queries, config.url, self._token))

    async def collect(self) -> Collected:
        """The current value of every metric, after the history the rules need if due."""
        client = self._connect()
        now = self._clock()
        span = self._backfill_span(now)
        instant = [self._instant(client, m, q, now) for m, q in self.queries.items()]
        plan = range_plan(now, span, self.interval) if span > 0 else None
        history = [self._range(client, m, q, plan) for m, q in self.queries.items()] if plan else []
        results = await asyncio.gather(*instant, *history, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, QueryFailed):
                raise result
        current, past = results[: len(instant)], results[len(instant) :]
        failed = [r for r in current if isinstance(r, QueryFailed)]
        if failed and len(failed) == len(current):
            raise _poll_failure(failed)
        self._last_success = now
        backfilled = [s for r in past if isinstance(r, Answer) for s in r.samples]
        problems = [r.message for r in (*current, *past) if isinstance(r, QueryFailed)]
        problems += [w for r in (*current, *past) if isinstance(r, Answer) for w in r.warnings]
        # history first: the store drops a sample older than its series' last
        samples = backfilled + [s for r in current if isinstance(r, Answer) for s in r.samples]
        return Collected(tuple(samples), tuple(problems), self.notes)

    def _connect(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(self.timeout, self.verify_tls)
            if self._token is not None:
                self._client.headers["Authorization"] = f"Bearer {self._token}"
        return self._client

    def _backfill_span(self, now: float) -> float:
        """Seconds of history to fetch: all of it at first, the gap after an outage."""
        if self.backfill <= 0:
            return 0.0
        if self._last_success is None:
            return self.backfill
        gap = now - self._last_success
        return min(self.backfill, gap) if gap > self.staleness else 0.0

    async def _instant(
        self, client: httpx.AsyncClient, metric: str, query: str, now: float
    ) -> Answer:
        params = {"query": query, "time": _number(now), "timeout": _number(self.timeout)}
        body = await self._get(client, "query", params, metric, backfill=False)
        return read_instant(body, metric)

    async def _range(
        self, client: httpx.AsyncClient, metric: str, query: str, plan: RangePlan
    ) -> Answer:
        params = {
            "query": query,
            "start": _number(plan.start),
            "end": _number(plan.end),
            "step": _number(plan.step),
            "timeout": _number(self.timeout),
        }
        budget = self.timeout * BACKFILL_SHARE
        try:
            async with asyncio.timeout(budget):
                body = await self._get(client, "query_range", params, metric, backfill=True)
        except TimeoutError:
            raise QueryFailed("timeout", f"no history within {budget:g}s", metric, True) from None
        return read_range(body, metric)

    async def _get(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        params: dict[str, str],
        metric: str,
        *,
        backfill: bool,
    ) -> ApiData:
        """The API's JSON answer, or QueryFailed saying why there is none."""
        url = f"{self.base_url}/api/v1/{endpoint}"
        try:
            async with client.stream("GET", url, params=params) as response:
                raw = await read_capped(response)
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except SourceFailure as failure:  # the body cap
            raise QueryFailed(failure.kind, failure.message, metric, backfill) from None
        except Exception as error:  # httpx's transport errors, classified
            failure = http_failure(error, self.timeout)
            raise QueryFailed(failure.kind, failure.message, metric, backfill) from None
        try:
            return api_answer(raw, status, content_type)
        except SourceFailure as failure:
            raise QueryFailed(failure.kind, failure.message, metric, backfill) from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _poll_failure(failed: list[QueryFailed]) -> SourceFailure:
    """Every metric failed: one failure for the poll, said once when they agree."""
    kinds = {f.kind for f in failed}
    kind = kinds.pop() if len(kinds) == 1 else failed[0].kind
    reasons = list(dict.fromkeys(f.reason for f in failed))
    if len(failed) > 1 and len(reasons) == 1:  # the server's trouble, not one query's
        return SourceFailure(kind, reasons[0])
    return SourceFailure(kind, "; ".join(dict.fromkeys(f.message for f in failed)))


def _number(value: float) -> str:
    """A time or duration as the API reads it: seconds, to the millisecond."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _notes(
    metrics: Sequence[str], queries: dict[str, str], url: str, token: str | None
) -> Iterator[str]:
    """Lasting conditions of the configuration an operator should know."""
    for metric in metrics:
        if metric not in queries:
            yield f"no query for {metric}; set [prometheus.queries] {metric}"
    parts = urlsplit(url)
    if token is not None and parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        yield "the bearer token is sent over plain http; use https"
