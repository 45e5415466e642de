"""The metrics engine: sources feed the store, derivations read it, rules judge the values.

`Monitor` owns one poller per configured source (each on its own schedule,
none able to delay another), the store, the rule evaluator and each
metric's history. `evaluate()` is cheap and synchronous: it reads what the
pollers have delivered so far, so a screen or `status --watch` can call it
on its own cadence and never waits on a source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lessay_console.catalog import METRICS, MetricSpec
from lessay_console.config.model import Config, MetricThresholds, staleness_of
from lessay_console.derived import DERIVATIONS, Reading, View, queried
from lessay_console.rules import DisplayState, Evaluator, MetricState, Phase, Severity
from lessay_console.samples import SourceFailure
from lessay_console.sources.base import PollReport, Source, poll_once, run_poller
from lessay_console.store import History, MetricStore

APP_METRICS = (
    "api_latency_p50",
    "api_latency_p95",
    "api_latency_p99",
    "api_error_rate",
    "db_pool_usage",
    "db_latency_p95",
    "payment_success_rate",
    "active_sessions",
    "lesson_completion_rate",
)
PG_METRICS = (
    "pg_connections",
    "pg_probe_latency_p95",
    "pg_longest_query",
    "pg_lock_waits",
    "pg_idle_in_transaction",
)


@dataclass
class SourceHealth:
    """What is known of one source's polls."""

    name: str
    staleness: float
    last_poll: float | None = None
    last_success: float | None = None
    failed_polls: int = 0  # consecutive
    error: SourceFailure | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    history_from: float | None = None  # oldest backfilled sample of the last poll

    def record(self, report: PollReport) -> None:
        self.last_poll = report.started
        if report.ok:
            self.last_success, self.failed_polls, self.error = report.started, 0, None
            self.problems, self.notes = report.problems, report.notes
            stamped = [s.timestamp for s in report.samples if s.timestamp is not None]
            self.history_from = min(stamped) if stamped else None
        else:
            self.failed_polls += 1
            self.error = report.error


@dataclass(frozen=True)
class MetricStatus:
    """Everything a screen or `status` shows of one metric."""

    spec: MetricSpec
    reading: Reading
    state: MetricState
    thresholds: MetricThresholds
    source: str
    age: float | None  # seconds since the newest sample the value rests on
    error: str | None  # the source's last error, while it fails
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    at: float
    metrics: tuple[MetricStatus, ...]
    sources: tuple[SourceHealth, ...]

    def metric(self, name: str) -> MetricStatus:
        return next(m for m in self.metrics if m.spec.name == name)


@dataclass
class SourcePlan:
    """A configured source, the metrics it feeds, and what is known of its polls."""

    source: Source
    metrics: tuple[str, ...]
    staleness: float
    health: SourceHealth = field(init=False)

    def __post_init__(self) -> None:
        self.health = SourceHealth(self.source.name, self.staleness)


def plan_sources(config: Config) -> list[SourcePlan]:
    """The sources a configuration asks for, each with the metrics it feeds."""
    from lessay_console.sources.host import HostSource

    plans = [
        SourcePlan(HostSource(config.host), ("cpu", "memory", "disk"), staleness_of(config.host))
    ]
    if config.prometheus is not None:
        from lessay_console.sources.prometheus import PrometheusSource

        source = PrometheusSource(
            config.prometheus, config.metrics.window, backfill=history_needed(config)
        )
        plans.append(SourcePlan(source, APP_METRICS, staleness_of(config.prometheus)))
    elif config.api.metrics_urls:
        from lessay_console.sources.scrape import ScrapeSource

        plans.append(SourcePlan(ScrapeSource(config.api), APP_METRICS, staleness_of(config.api)))
    if config.api.health_url:
        from lessay_console.sources.health import HealthSource

        plans.append(
            SourcePlan(HealthSource(config.api), ("api_health",), staleness_of(config.api))
        )
    if config.postgres is not None:
        from lessay_console.sources.postgres import PostgresSource

        plans.append(
            SourcePlan(PostgresSource(config.postgres), PG_METRICS, staleness_of(config.postgres))
        )
    if config.backups.has_catalog:
        from lessay_console.sources.backups import BackupsSource

        # stale after three missed reads, as every source (DESIGN section 6)
        plans.append(SourcePlan(BackupsSource(config), ("backups",), 3 * config.backups.interval))
    return plans


def history_needed(config: Config) -> float:
    """How far back the rules look: the longest `for` (plus keep_firing_for) and the window."""
    longest = max(
        (
            r.for_seconds + r.keep_firing_for
            for t in config.thresholds.values()
            for r in (t.warning, t.critical)
            if r
        ),
        default=0.0,
    )
    return longest + config.metrics.window


# Sources whose counters need a second poll before a rate exists.
RATE_SOURCES = frozenset({"scrape", "host"})


class Monitor:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        plans: list[SourcePlan] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.plans = plan_sources(config) if plans is None else plans
        longest_for = max(
            (
                r.for_seconds + r.keep_firing_for
                for t in config.thresholds.values()
                for r in (t.warning, t.critical)
                if r
            ),
            default=0.0,
        )
        # keep enough raw samples for the rate window and the longest staleness
        retention = (
            config.metrics.window + max((p.health.staleness for p in self.plans), default=0.0) + 60
        )
        self.store = MetricStore(retention=max(retention, longest_for))
        self.evaluator = Evaluator(config.thresholds)
        self.history: dict[str, History] = {}
        self._by_source = {p.source.name: p for p in self.plans}
        self._last_prune = 0.0

    @property
    def metric_names(self) -> list[str]:
        return [m for p in self.plans for m in p.metrics]

    def deliver(self, report: PollReport) -> None:
        """Take one poll's report: samples into the store, the outcome into the source's health."""
        plan = self._by_source[report.source]
        plan.health.record(report)
        if report.ok:
            self.store.append_samples(report.samples, report.started)

    async def poll_all_once(self) -> None:
        """Poll every source once, concurrently (for `status` and tests)."""
        reports = await asyncio.gather(*(poll_once(p.source, self.clock) for p in self.plans))
        for report in reports:
            self.deliver(report)

    async def start(self) -> Snapshot:
        """Poll every source once; where a source brought history (Prometheus backfill),
        replay the evaluations over it so that `for` durations hold from the first minute."""
        await self.poll_all_once()
        now = self.clock()
        starts = [p.health.history_from for p in self.plans if p.health.history_from is not None]
        if starts:
            step = min(p.source.interval for p in self.plans)
            t = min(starts)
            while t < now:
                self.evaluate(t)
                t += step
        return self.evaluate(now)

    async def first_snapshot(self, rate_gap: float = 2.0) -> Snapshot:
        """Start, and where a source's counters need a second poll for a rate, poll again
        `rate_gap` seconds later: the first judgement a headless command can make."""
        snapshot = await self.start()
        if any(p.source.name in RATE_SOURCES for p in self.plans):
            await asyncio.sleep(rate_gap)
            await self.poll_all_once()
            snapshot = self.evaluate()
        return snapshot

    async def run(self) -> None:
        """Poll every source on its own schedule until cancelled."""
        async with asyncio.TaskGroup() as group:
            for plan in self.plans:
                group.create_task(run_poller(plan.source, self.deliver, self.clock))

    def evaluate(self, now: float | None = None) -> Snapshot:
        now = self.clock() if now is None else now
        statuses = []
        for plan in self.plans:
            health = plan.health
            view = View(self.store, now, self.config.metrics.window, health.staleness)
            for name in plan.metrics:
                statuses.append(self._evaluate_metric(name, view, health, now))
        if now - self._last_prune > 30:
            self.store.prune(now)
            self._last_prune = now
        return Snapshot(now, tuple(statuses), tuple(p.health for p in self.plans))

    def _evaluate_metric(
        self, name: str, view: View, health: SourceHealth, now: float
    ) -> MetricStatus:
        derive = queried(name) if health.name == "prometheus" else DERIVATIONS[name]
        reading = derive(view)
        failing = health.error is not None
        # A failed poll freezes the alert state while the last value is still
        # fresh; once it is stale the metric is NODATA like any silent one.
        state = self.evaluator.evaluate(
            name,
            reading.value,
            now,
            source_failed=failing and reading.value is not None,
            failed_polls=health.failed_polls if failing else None,
        )
        if reading.value is not None:
            self.history.setdefault(name, History()).add(now, reading.value)
        age = None if reading.sample_time is None else max(0.0, now - reading.sample_time)
        error = health.error.message if health.error else None
        return MetricStatus(
            METRICS[name],
            reading,
            state,
            self.config.thresholds.get(name, MetricThresholds()),
            health.name,
            age,
            error,
            health.problems,
        )

    async def aclose(self) -> None:
        for plan in self.plans:
            await plan.source.close()


# Nagios plugin exit codes, and their order when several metrics disagree:
# critical over warning over unknown over OK (monitoring-plugins' max_state_alt).
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
_WORSE = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}


def exit_code(state: MetricState) -> int:
    """One metric's Nagios code: a firing rule counts even while its source fails."""
    for level, code in ((Severity.CRITICAL, CRITICAL), (Severity.WARNING, WARNING)):
        rule = state.rule(level)
        if rule is not None and rule.phase is Phase.FIRING:
            return code
    if state.state in (DisplayState.NODATA, DisplayState.ERROR):
        return UNKNOWN
    return OK


def worst_of(codes: Iterable[int]) -> int:
    return max(codes, key=_WORSE.__getitem__, default=OK)


def worst_exit_code(snapshot: Snapshot) -> int:
    return worst_of(exit_code(m.state) for m in snapshot.metrics)
