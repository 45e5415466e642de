"""The guide's metrics (section 1.1 and 1.2) derived from the raw series in the store.

Each derivation reads the store at an evaluation time and returns a
`Reading`: the value (None when there is no fresh data), the time of the
newest sample it rests on (its age is shown), and a breakdown where the
guide asks for one (error rate by service). Rates and percentiles are taken
per series over the window and then summed, as `sum(rate(...))` and
`histogram_quantile(q, sum by (le) (rate(..._bucket[5m])))` do.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from lessay_console import promql
from lessay_console.samples import Labels
from lessay_console.store import LabelMatcher, MetricStore, SeriesRef


@dataclass(frozen=True, slots=True)
class Reading:
    value: float | None
    sample_time: float | None = None  # newest sample the value rests on
    at_least: bool = False  # a quantile that fell in the +Inf bucket
    breakdown: tuple[tuple[str, float], ...] = ()
    detail: str = ""  # why there is no value, or what the value is of


NO_DATA = Reading(None)
Derivation = Callable[["View"], Reading]


@dataclass(frozen=True)
class View:
    """The store as one derivation sees it: at `now`, over `window`, fresh within `staleness`."""

    store: MetricStore
    now: float
    window: float
    staleness: float
    _increases: dict = field(default_factory=dict, compare=False, repr=False)

    def fresh(self, name: str, match: LabelMatcher = None) -> list[tuple[SeriesRef, float, float]]:
        """(series, time, value) of every matching series with a sample within staleness."""
        found = []
        for ref in self.store.select(name, match):
            latest = ref.series.latest(self.now, self.staleness)
            if latest is not None:
                found.append((ref, *latest))
        return found

    def gauge_sum(self, name: str, match: LabelMatcher = None) -> Reading:
        fresh = self.fresh(name, match)
        if not fresh:
            return NO_DATA
        return Reading(sum(v for _, _, v in fresh), max(t for _, t, _ in fresh))

    def gauge_max(self, name: str, label: str) -> Reading:
        fresh = self.fresh(name)
        if not fresh:
            return NO_DATA
        by = tuple(sorted((ref.label(label), v) for ref, _, v in fresh))
        worst = max(fresh, key=lambda item: item[2])
        return Reading(
            worst[2],
            max(t for _, t, _ in fresh),
            breakdown=by,
            detail=f"{label} {worst[0].label(label)}",
        )

    def increases(
        self, name: str, match: LabelMatcher = None
    ) -> tuple[list[tuple[SeriesRef, float]], float | None]:
        """Per-series increase over the window (fresh series with two samples or more).

        Memoised for the life of the view: p50, p95 and p99 read the same buckets."""
        key = (name, _match_key(match))
        if key not in self._increases:
            self._increases[key] = self._compute_increases(name, match)
        return self._increases[key]

    def _compute_increases(
        self, name: str, match: LabelMatcher
    ) -> tuple[list[tuple[SeriesRef, float]], float | None]:
        results, newest = [], None
        start = self.now - self.window
        for ref, t, _ in self.fresh(name, match):
            summary = ref.series.summary(start, self.now)
            if summary is not None:
                value = promql.extrapolate(summary, start, self.now, is_counter=True, is_rate=False)
                results.append((ref, value))
                newest = t if newest is None else max(newest, t)
        return results, newest

    def histogram_quantile(
        self, q: float, name: str, match: LabelMatcher = None, scale: float = 1.0
    ) -> Reading:
        increases, newest = self.increases(f"{name}_bucket", match)
        if not increases:
            return self.no_rate(f"{name}_bucket", match)
        groups = []
        for ref, value in increases:
            try:
                groups.append([(float(ref.label("le")), value)])
            except ValueError:  # a bucket without a usable le: not part of any histogram
                continue
        buckets = promql.sum_buckets(groups)  # sum by (le), as Prometheus sums
        if sum(count for le, count in buckets if le == float("inf")) == 0:
            return Reading(None, newest, detail="no observations in the window")
        result = promql.histogram_quantile(q, buckets)
        if result is None or result.value != result.value:  # NaN
            return Reading(None, newest, detail="histogram without usable buckets")
        return Reading(result.value * scale, newest, at_least=result.at_least)

    def no_rate(self, name: str, match: LabelMatcher = None) -> Reading:
        """No value yet: say so when the series exist but have one sample in the window."""
        if self.fresh(name, match):
            return Reading(None, detail="a rate needs two samples in the window; wait a poll")
        return NO_DATA

    def ratio(
        self, numerator: float, denominator: float, newest: float | None, what: str
    ) -> Reading:
        if denominator <= 0:
            return Reading(None, newest, detail=f"no {what} in the window")
        return Reading(100.0 * numerator / denominator, newest)


def _match_key(match: LabelMatcher) -> object:
    if match is None or callable(match):
        return match
    return tuple(sorted(match.items()))


def _is_server_error(labels: Labels) -> bool:
    return dict(labels).get("code", "").startswith("5")


def error_rate_by_service(view: View) -> Reading:
    """The 5xx share of each service's requests; the value is the worst service's."""
    increases, newest = view.increases("lessay_http_requests_total")
    totals: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    for ref, value in increases:
        service = ref.label("service", "?")
        totals[service] += value
        if _is_server_error(ref.labels):
            errors[service] += value
    rates = {s: 100.0 * errors[s] / totals[s] for s in totals if totals[s] > 0}
    if not increases:
        return view.no_rate("lessay_http_requests_total")
    if not rates:
        return Reading(None, newest, detail="no requests in the window")
    worst = max(rates, key=rates.__getitem__)
    return Reading(
        rates[worst], newest, breakdown=tuple(sorted(rates.items())), detail=f"worst: {worst}"
    )


def counter_ratio(
    view: View,
    numerator: tuple[str, LabelMatcher],
    denominator: list[tuple[str, LabelMatcher]],
    what: str,
) -> Reading:
    top, newest = view.increases(*numerator)
    if not top:
        return view.no_rate(*numerator)
    times = [newest]
    bottom_total = 0.0
    for name, match in denominator:
        parts, t = view.increases(name, match)
        bottom_total += sum(v for _, v in parts)
        times.append(t)
    known = [t for t in times if t is not None]
    return view.ratio(sum(v for _, v in top), bottom_total, max(known, default=None), what)


def db_pool_usage(view: View) -> Reading:
    in_use = view.gauge_sum("lessay_db_pool_connections", {"state": "in_use"})
    idle = view.gauge_sum("lessay_db_pool_connections", {"state": "idle"})
    maximum = view.gauge_sum("lessay_db_pool_max_connections")
    if in_use.value is None or not maximum.value:
        return NO_DATA
    reading = view.ratio(in_use.value, maximum.value, in_use.sample_time, "pool")
    breakdown = (("in_use", in_use.value), ("idle", idle.value or 0.0), ("max", maximum.value))
    return Reading(reading.value, reading.sample_time, breakdown=breakdown)


def pg_connections(view: View) -> Reading:
    states = view.fresh("pg_connections")
    maximum = view.gauge_sum("pg_max_connections")
    if not states or not maximum.value:
        return NO_DATA
    total = sum(v for _, _, v in states)
    breakdown = tuple(sorted((ref.label("state"), v) for ref, _, v in states))
    reading = view.ratio(total, maximum.value, max(t for _, t, _ in states), "connections")
    return Reading(reading.value, reading.sample_time, breakdown=breakdown)


def pg_probe_p95(view: View) -> Reading:
    values, newest = [], None
    for ref, t, _ in view.fresh("pg_probe_latency_seconds"):
        values += [v for _, v in ref.series.window(view.now - view.window, view.now)]
        newest = t
    if not values:
        return NO_DATA
    return Reading(promql.quantile(0.95, values) * 1000, newest)


def queried(metric: str) -> Derivation:
    """A metric Prometheus computed (`[prometheus]`): its series `query:METRIC`, one per label
    set the query returned; several (error rate by service) give the worst and a breakdown."""

    def derive(view: View) -> Reading:
        every = view.fresh(f"query:{metric}")
        # NaN is PromQL's "nothing to compute" (no requests in the window): no data, as on
        # the scrape path, not a value that is never above a threshold
        fresh = [item for item in every if not math.isnan(item[2])]
        if not fresh:
            return Reading(None, detail="no data in the window") if every else NO_DATA
        newest = max(t for _, t, _ in fresh)
        if len(fresh) == 1:
            return Reading(fresh[0][2], newest)
        named = sorted(
            (",".join(v for _, v in ref.labels) or "-", value) for ref, _, value in fresh
        )
        worst = max(named, key=lambda item: item[1])
        return Reading(worst[1], newest, breakdown=tuple(named), detail=f"worst: {worst[0]}")

    return derive


API = {"service": "api"}

# metric name -> how it is derived from scraped (or polled) series
DERIVATIONS: dict[str, Derivation] = {
    "cpu": lambda v: v.gauge_sum("host_cpu_percent"),
    "memory": lambda v: v.gauge_sum("host_memory_percent"),
    "disk": lambda v: v.gauge_max("host_disk_percent", "mount"),
    "api_latency_p50": lambda v: v.histogram_quantile(
        0.50, "lessay_http_request_duration_seconds", API, 1000
    ),
    "api_latency_p95": lambda v: v.histogram_quantile(
        0.95, "lessay_http_request_duration_seconds", API, 1000
    ),
    "api_latency_p99": lambda v: v.histogram_quantile(
        0.99, "lessay_http_request_duration_seconds", API, 1000
    ),
    "api_error_rate": error_rate_by_service,
    "db_pool_usage": db_pool_usage,
    "db_latency_p95": lambda v: v.histogram_quantile(
        0.95, "lessay_db_query_duration_seconds", None, 1000
    ),
    "payment_success_rate": lambda v: counter_ratio(
        v,
        ("lessay_payment_transactions_total", {"outcome": "succeeded"}),
        [("lessay_payment_transactions_total", None)],
        "payment transactions",
    ),
    "active_sessions": lambda v: v.gauge_sum("lessay_active_sessions"),
    "lesson_completion_rate": lambda v: counter_ratio(
        v,
        ("lessay_lessons_completed_total", None),
        [("lessay_lessons_started_total", None)],
        "lessons started",
    ),
    "api_health": lambda v: v.gauge_sum("health_status"),
    "pg_connections": pg_connections,
    "pg_probe_latency_p95": pg_probe_p95,
    "pg_longest_query": lambda v: v.gauge_sum("pg_longest_query_seconds"),
    "pg_lock_waits": lambda v: v.gauge_sum("pg_lock_waits"),
    "pg_idle_in_transaction": lambda v: v.gauge_sum("pg_idle_in_transaction"),
    # the worst kind's state (0 ok, 1 warn, 2 crit); the breakdown gives every kind's
    "backups": lambda v: v.gauge_max("backup_state", "kind"),
}
