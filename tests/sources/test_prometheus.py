"""The Prometheus source against real Prometheus servers, and every bad answer one can give.

Two real servers (see tests/prometheus_server.py): one scraping the demo
backend, for live values; one holding imported history whose values are all
known, for exact results, the backfill and the engine's first evaluation.
Tiny local HTTP servers stand in only where a real Prometheus cannot
misbehave on demand (HTML answers, recording headers, a hung socket).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from lessay_console.config.model import (
    Config,
    MetricThresholds,
    PrometheusConfig,
    ThresholdRule,
)
from lessay_console.config.secrets import Secret
from lessay_console.monitor import APP_METRICS, Monitor
from lessay_console.rules import Phase, Severity
from lessay_console.samples import Collected, Labels, Sample, SourceFailure
from lessay_console.sources.base import poll_once
from lessay_console.sources.prometheus import PrometheusSource, range_plan
from lessay_console.sources.prometheus_queries import promql_duration
from tests import prometheus_server as servers
from tests.helpers import await_until
from tests.hostile_server import Answer, closed_port, scripted_server, silent_port
from tests.prometheus_server import (
    FAST_P95_MS,
    HISTORY_ERROR_RATE,
    HISTORY_LESSON_COMPLETION,
    HISTORY_PAYMENT_SUCCESS,
    HISTORY_POOL_USAGE,
    SESSIONS,
    SLOW_P95_MS,
    PrometheusServer,
)

# the real servers, session-scoped: started once however many modules use them
live_prometheus = servers.live_prometheus
history_prometheus = servers.history_prometheus

TOKEN = "s3cr3t-prometheus-token-4711"
# one query a poll against the tiny local servers, whose listen backlog is 5
ONE = ("active_sessions",)
MakeSource = Callable[..., PrometheusSource]
# what the tiny local servers answer in the API's own JSON
VECTOR = json.dumps(
    {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "3"]}]},
    }
).encode()
MATRIX = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()


@pytest.fixture
async def source() -> AsyncIterator[MakeSource]:
    """Make sources on the given URL; every one is closed at teardown."""
    made: list[PrometheusSource] = []

    def make(
        url: str,
        window: float = 300.0,
        backfill: float = 0.0,
        metrics: tuple[str, ...] | None = None,
        **config: Any,
    ) -> PrometheusSource:
        made.append(
            PrometheusSource(PrometheusConfig(url=url, **config), window, backfill, metrics=metrics)
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


def values(samples: tuple[Sample, ...], metric: str) -> dict[Labels, float]:
    """label set -> value of the current (untimestamped) samples of one metric."""
    name = f"query:{metric}"
    return {s.labels: s.value for s in samples if s.name == name and s.timestamp is None}


def value(samples: tuple[Sample, ...], metric: str) -> float:
    (only,) = values(samples, metric).values()
    return only


def history_of(samples: tuple[Sample, ...], metric: str) -> list[Sample]:
    return [s for s in samples if s.name == f"query:{metric}" and s.timestamp is not None]


# --- live values from the demo backend -------------------------------------------------------


async def test_every_metric_comes_back_from_the_live_demo(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    prometheus = source(live_prometheus.url)

    async def every_metric() -> Collected | None:
        collected = await prometheus.collect()
        got = {s.name for s in collected.samples if math.isfinite(s.value)}
        return collected if got >= {f"query:{m}" for m in APP_METRICS} else None

    collected = await await_until(every_metric, within=20)
    assert collected.problems == ()
    samples = collected.samples
    p50, p95, p99 = (value(samples, f"api_latency_p{q}") for q in (50, 95, 99))
    assert 1 < p50 <= p95 <= p99 < 1000  # ms: the demo answers in tens of ms
    assert 1 < value(samples, "db_latency_p95") < 1000
    assert 0 < value(samples, "db_pool_usage") <= 100
    # rate() extrapolates each series on its own: 100% may come back as 100.00000000000001
    assert 50 < value(samples, "payment_success_rate") <= 100 + 1e-9
    # completed / started over a few seconds may pass 100%: lessons started earlier finish
    assert value(samples, "lesson_completion_rate") >= 0
    assert value(samples, "active_sessions") > 100
    assert all(s.timestamp is None for s in samples)  # no backfill asked


async def test_error_rate_comes_back_per_service(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    prometheus = source(live_prometheus.url)

    async def by_service() -> dict[str, float]:
        rates = values((await prometheus.collect()).samples, "api_error_rate")
        return {dict(labels)["service"]: rate for labels, rate in rates.items()}

    # a service without requests in the window has no rate: wait for all three
    rates = await await_until(by_service, within=10)
    assert set(rates) == {"api", "auth", "payments"}
    assert all(0 <= rate < 50 for rate in rates.values())


async def test_builtin_queries_compute_the_known_history(
    history_prometheus: PrometheusServer, source: MakeSource
) -> None:
    collected = await source(history_prometheus.url).collect()
    assert collected.problems == ()
    samples = collected.samples
    approx = pytest.approx
    assert value(samples, "api_latency_p95") == approx(SLOW_P95_MS, rel=1e-6)
    assert value(samples, "db_latency_p95") == approx(FAST_P95_MS, rel=1e-6)
    assert value(samples, "db_pool_usage") == approx(HISTORY_POOL_USAGE)
    assert value(samples, "payment_success_rate") == approx(HISTORY_PAYMENT_SUCCESS)
    assert value(samples, "lesson_completion_rate") == approx(HISTORY_LESSON_COMPLETION)
    assert value(samples, "active_sessions") == SESSIONS
    by_service = {dict(k)["service"]: v for k, v in values(samples, "api_error_rate").items()}
    # payments never answered 5xx: 0%, not missing
    assert by_service == approx(HISTORY_ERROR_RATE)


async def test_a_configured_query_replaces_the_builtin_one(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    queries = {"active_sessions": 'count(up{job="lessay"}) * 42', "db_pool_usage": "1 + 6"}
    collected = await source(live_prometheus.url, queries=queries).collect()
    assert values(collected.samples, "active_sessions") == {(): 42.0}
    assert values(collected.samples, "db_pool_usage") == {(): 7.0}  # a scalar answer
    assert value(collected.samples, "api_latency_p95") < 1000  # the others stay built in


async def test_non_finite_values_are_kept_as_floats(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    queries = {"active_sessions": "vector(NaN)", "db_pool_usage": "+Inf", "db_latency_p95": "-Inf"}
    collected = await source(live_prometheus.url, queries=queries).collect()
    assert collected.problems == ()
    assert math.isnan(value(collected.samples, "active_sessions"))
    assert value(collected.samples, "db_pool_usage") == math.inf
    assert value(collected.samples, "db_latency_p95") == -math.inf


# --- backfill -------------------------------------------------------------------------------


async def test_first_poll_backfills_the_window_with_timestamps(
    history_prometheus: PrometheusServer, source: MakeSource
) -> None:
    history = history_prometheus.history
    assert history is not None
    prometheus = source(history_prometheus.url, backfill=600, interval=15)
    now = time.time()
    collected = await prometheus.collect()
    assert collected.problems == ()
    past = history_of(collected.samples, "api_latency_p95")
    times = [s.timestamp for s in past]
    assert times == sorted(times)
    assert times[0] <= now - 600  # spans the whole backfill window
    assert now - 45 <= times[-1] < now  # up to the last step before this poll
    assert {b - a for a, b in itertools.pairwise(times)} == {15.0}
    fast = [s.value for s in past if s.timestamp <= history.slow_from - 15]
    slow = [s.value for s in past if s.timestamp >= history.slow_from + 300]
    assert fast and slow
    assert fast == pytest.approx([FAST_P95_MS] * len(fast))
    assert slow == pytest.approx([SLOW_P95_MS] * len(slow))
    services = {s.label("service") for s in history_of(collected.samples, "api_error_rate")}
    assert services == {"api", "auth", "payments"}
    # history before the current value: the store drops a sample older than its series' last
    current = [s.timestamp is None for s in collected.samples if s.name == past[0].name]
    assert current == sorted(current) and current[-1]
    again = await prometheus.collect()
    assert all(s.timestamp is None for s in again.samples)  # only the first poll backfills


async def test_backfills_again_after_a_gap_longer_than_staleness(
    history_prometheus: PrometheusServer,
) -> None:
    offset = 0.0
    config = PrometheusConfig(url=history_prometheus.url, interval=15, staleness=45)
    prometheus = PrometheusSource(config, 300, 600, clock=lambda: time.time() + offset)
    try:
        assert history_of((await prometheus.collect()).samples, "active_sessions")
        offset = 30  # within staleness: nothing to fill
        assert not history_of((await prometheus.collect()).samples, "active_sessions")
        offset = 30 + 120  # unreachable for two minutes: the gap is filled, not more
        past = history_of((await prometheus.collect()).samples, "active_sessions")
        assert 120 <= len(past) * 15 <= 150
    finally:
        await prometheus.close()


async def test_backfill_stays_within_prometheus_resolution_limit(
    history_prometheus: PrometheusServer, source: MakeSource
) -> None:
    prometheus = source(history_prometheus.url, backfill=40 * 86400, interval=1)
    collected = await prometheus.collect()
    assert collected.problems == ()  # Prometheus refuses more than 11,000 points a series
    assert 0 < len(history_of(collected.samples, "active_sessions")) <= 11_000


async def test_a_slow_backfill_gives_up_the_history_not_the_values(source: MakeSource) -> None:
    def slow_range() -> Answer:
        time.sleep(1.5)  # in the server's thread: the source gives up long before
        return Answer(200, MATRIX, "application/json")

    routes = {
        "/api/v1/query": lambda: Answer(200, VECTOR, "application/json"),
        "/api/v1/query_range": slow_range,
    }
    with scripted_server(routes) as (url, _seen):
        report = await poll_once(source(url, backfill=600, metrics=ONE, timeout=0.5))
    assert report.ok, report.error
    assert value(report.samples, "active_sessions") == 3
    assert not history_of(report.samples, "active_sessions")
    assert report.problems == ("no history within 0.4s in backfill query for active_sessions",)


@pytest.mark.parametrize("span", [60.0, 600.0, 3600.0, 40 * 86400.0, 365 * 86400.0])
@pytest.mark.parametrize("interval", [0.5, 1.0, 15.0])
def test_range_plan_is_aligned_bounded_and_ends_before_now(span: float, interval: float) -> None:
    now = 1_800_000_007.25
    plan = range_plan(now, span, interval)
    points = round((plan.end - plan.start) / plan.step) + 1
    assert points <= 11_000
    assert plan.step >= interval
    assert plan.start <= now - span and plan.end < now
    grid = plan.end / plan.step  # aligned: every backfill evaluates at the same times
    assert grid == pytest.approx(round(grid), abs=1e-6)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (90, "90s"), (3600, "1h"), (5400, "90m"), (0.25, "250ms")]
)
def test_window_as_promql_duration(seconds: float, text: str) -> None:
    assert promql_duration(seconds) == text


# --- the engine -----------------------------------------------------------------------------


async def test_a_for_5m_rule_fires_at_the_first_evaluation(
    history_prometheus: PrometheusServer,
) -> None:
    rule = ThresholdRule("above", 500, for_seconds=300)
    config = Config(
        prometheus=PrometheusConfig(url=history_prometheus.url, interval=15),
        thresholds={"api_latency_p95": MetricThresholds(warning=rule)},
    )
    started, cold = Monitor(config), Monitor(config)
    try:
        assert {p.source.name for p in started.plans} == {"host", "prometheus"}
        snapshot = await started.start()
        # without the replay over the history, the same value is only pending
        await cold.poll_all_once()
        first_look = cold.evaluate().metric("api_latency_p95").state
    finally:
        await started.aclose()
        await cold.aclose()
    status = snapshot.metric("api_latency_p95")
    assert status.reading.value == pytest.approx(SLOW_P95_MS, rel=1e-6)
    warning = status.state.rule(Severity.WARNING)
    assert warning is not None and warning.phase is Phase.FIRING
    assert warning.active_since is not None and warning.active_since <= snapshot.at - 300
    cold_warning = first_look.rule(Severity.WARNING)
    assert cold_warning is not None and cold_warning.phase is Phase.PENDING


# --- failures -------------------------------------------------------------------------------


async def test_a_prometheus_that_is_down_is_connect(source: MakeSource) -> None:
    report = await poll_once(source(f"http://127.0.0.1:{closed_port()}"))
    assert report.error is not None
    assert report.error.kind == "connect"
    assert "refused" in report.error.message.lower()


async def test_a_prometheus_that_never_answers_times_out_at_its_timeout(source: MakeSource) -> None:
    with silent_port() as port:
        prometheus = source(f"http://127.0.0.1:{port}", timeout=0.5)
        begun = time.monotonic()
        with pytest.raises(SourceFailure) as raised:
            await prometheus.collect()
        elapsed = time.monotonic() - begun
        report = await poll_once(prometheus)
    assert raised.value.kind == "timeout"
    assert 0.45 <= elapsed < 2.0
    assert report.error is not None and report.error.kind == "timeout"
    assert 0.45 <= report.duration < 2.0


async def test_an_api_error_is_that_metrics_problem(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    queries = {"active_sessions": "sum(lessay_active_sessions"}  # unclosed parenthesis
    report = await poll_once(source(live_prometheus.url, queries=queries))
    assert report.ok
    assert not values(report.samples, "active_sessions")
    assert value(report.samples, "db_pool_usage") > 0  # the others still come back
    (problem,) = report.problems
    assert problem.startswith("bad_data: ")
    assert problem.endswith(" in query for active_sessions")


async def test_every_query_refused_fails_the_poll_as_invalid(
    live_prometheus: PrometheusServer, source: MakeSource
) -> None:
    queries = dict.fromkeys(APP_METRICS, "rate(lessay_active_sessions)")  # needs a range
    report = await poll_once(source(live_prometheus.url, queries=queries))
    assert report.error is not None
    assert report.error.kind == "invalid"
    assert report.error.message.startswith("bad_data: ")


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, b"<html><body>Grafana login</body></html>", "text/html; charset=utf-8"),
        Answer(200, b"<html>not json</html>", "text/plain"),
        Answer(200, json.dumps({"hello": "world"}).encode(), "application/json"),
    ],
    ids=["html", "not-json", "json-not-api"],
)
async def test_an_answer_that_is_not_the_api_is_parse(source: MakeSource, answer: Answer) -> None:
    with scripted_server({"/api/v1/query": lambda: answer}) as (url, _seen):
        report = await poll_once(source(url, metrics=ONE))
    assert report.error is not None
    assert report.error.kind == "parse"


async def test_the_bearer_token_is_a_header_and_never_shown(
    source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = Secret("env:PROMETHEUS_TOKEN", TOKEN)
    routes = {"/api/v1/query": lambda: Answer(200, VECTOR, "application/json")}
    with scripted_server(routes) as (url, seen):
        report = await poll_once(source(url, metrics=ONE, bearer_token=token))
        assert report.ok and value(report.samples, "active_sessions") == 3
        assert seen and all(h.get("Authorization") == f"Bearer {TOKEN}" for h in seen)
        routes["/api/v1/query"] = lambda: Answer(401, b"bad token", "text/plain")
        refused = await poll_once(source(url, metrics=ONE, bearer_token=token))
    down = await poll_once(source(f"http://127.0.0.1:{closed_port()}", bearer_token=token))
    assert refused.error is not None and refused.error.kind == "auth"
    assert down.error is not None and down.error.kind == "connect"
    shown = [refused.error.message, down.error.message, *report.problems, *report.notes]
    assert all(TOKEN not in text for text in shown)
    assert TOKEN not in caplog.text


def test_notes_name_a_metric_without_query_and_a_token_over_plain_http() -> None:
    config = PrometheusConfig(
        url="http://prometheus.internal:9090", bearer_token=Secret("env:T", TOKEN)
    )
    prometheus = PrometheusSource(config, 300, metrics=("cpu", "active_sessions"))
    assert prometheus.notes == (
        "no query for cpu; set [prometheus.queries] cpu",
        "the bearer token is sent over plain http; use https",
    )
    assert list(prometheus.queries) == ["active_sessions"]
