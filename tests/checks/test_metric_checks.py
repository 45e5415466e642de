"""The metric and alerts checks through the runner, on a real Monitor polling the demo backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from lessay_console.checks.catalog import KINDS
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.config import Config
from lessay_console.config.model import ApiConfig, MetricsConfig, MetricThresholds, ThresholdRule
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.settings import demo_config
from lessay_console.monitor import Monitor, Snapshot, plan_sources
from lessay_console.rules import DisplayState
from tests.helpers import await_until
from tests.hostile_server import closed_port

NEVER = ThresholdRule("above", 1e12)  # a rule no demo value reaches


def monitor_of(config: Config, **thresholds: MetricThresholds) -> Monitor:
    """Polled fast over a 3 s window, without the host source (this machine's CPU is not
    the demo's: a busy test runner must not turn a check amber)."""
    config = replace(
        config,
        api=replace(config.api, interval=0.3, timeout=1.0, staleness=1.5),
        metrics=MetricsConfig(window=3.0),
        thresholds={**config.thresholds, **thresholds},
    )
    # not the host (its real CPU may be busy), nor the demo's backup catalog: its one
    # designed gap is a warning of its own, firing whatever the scenario
    plans = [p for p in plan_sources(config) if p.source.name not in ("host", "backups")]
    return Monitor(config, plans=plans)


async def collected(monitor: Monitor, metric: str = "api_latency_p95") -> Snapshot:
    """Poll until `metric` has a value (rates need two polls a demo tick apart)."""

    async def probe() -> Snapshot | None:
        await monitor.poll_all_once()
        snapshot = monitor.evaluate()
        return snapshot if snapshot.metric(metric).reading.value is not None else None

    return await await_until(probe, within=10, interval=0.3)


async def demo_snapshot(
    scenario: str = "normal", *, until: str = "api_latency_p95", **thresholds: MetricThresholds
) -> Snapshot:
    """What a Monitor polling the demo backend (in `scenario`) sees once `until` has a value."""
    with DemoBackend(scenario=scenario) as backend:
        monitor = monitor_of(demo_config(backend), **thresholds)
        try:
            return await collected(monitor, until)
        finally:
            await monitor.aclose()


def serving(snapshot: Snapshot) -> Callable[[], Awaitable[Snapshot]]:
    async def metrics() -> Snapshot:
        return snapshot

    return metrics


async def check(kind: str, snapshot: Snapshot | None, **params: Any) -> CheckResult:
    ctx = CheckContext(config=Config(), metrics=None if snapshot is None else serving(snapshot))
    return await run_check_of(kind, ctx, params)


async def run_check_of(kind: str, ctx: CheckContext, params: dict[str, Any]) -> CheckResult:
    from lessay_console.checks.runner import run_check

    return await run_check(CheckSpec(kind, kind, kind, params, KINDS[kind].timeout), ctx)


async def test_normal_metrics_pass() -> None:
    snapshot = await demo_snapshot()
    latency = await check("metric", snapshot, metric="api_latency_p95")
    alerts = await check("alerts", snapshot)
    assert latency.status is CheckStatus.PASS, latency
    assert latency.summary.startswith("API p95 ")
    assert latency.summary.endswith(": OK (warn >500ms 1m · crit >1s 2m)")
    assert 0 < latency.data["value"] < 500
    assert latency.data["state"] == "ok"
    assert "warning: above 500 ms for 1m: ok" in latency.detail
    assert alerts.status is CheckStatus.PASS, alerts
    assert alerts.summary == f"no alert firing or pending ({len(snapshot.metrics)} metrics)"
    assert alerts.data["alerts"] == []


async def test_high_latency_beyond_warning_warns_while_pending() -> None:
    latency_rules = MetricThresholds(
        warning=ThresholdRule("above", 500, for_seconds=60), critical=NEVER
    )
    snapshot = await demo_snapshot("high-latency", api_latency_p95=latency_rules)
    result = await check("metric", snapshot, metric="api_latency_p95")
    assert result.status is CheckStatus.WARN, result
    assert snapshot.metric("api_latency_p95").state.state is DisplayState.PENDING
    assert result.summary.startswith("API p95 ")
    assert ": above warning 500 ms (pending " in result.summary
    assert result.summary.endswith(" of 1m)")
    assert result.data["value"] > 500
    assert result.data["severity"] == "warning"


async def test_high_latency_beyond_critical_fails_before_the_rule_fires() -> None:
    # the demo's own rules: a headless run collects once, so the 2m `for` cannot have passed
    snapshot = await demo_snapshot("high-latency")
    status = snapshot.metric("api_latency_p95")
    result = await check("metric", snapshot, metric="api_latency_p95")
    alerts = await check("alerts", snapshot)
    # the scenario puts p95 around 1 s: which threshold it is beyond decides the verdict
    beyond_critical = status.reading.value > 1000
    assert result.status is (CheckStatus.FAIL if beyond_critical else CheckStatus.WARN), result
    expected = "above critical 1.00 s (pending " if beyond_critical else "above warning 500 ms"
    assert expected in result.summary
    assert status.state.state is DisplayState.PENDING
    # alerts: pending rules and the health warning, nothing critical firing: a warning
    assert alerts.status is CheckStatus.WARN, alerts
    by_metric = {alert["metric"]: alert for alert in alerts.data["alerts"]}
    assert by_metric["api_latency_p95"]["state"] == "pending"
    assert by_metric["api_health"]["state"] == "firing"
    assert by_metric["api_health"]["severity"] == "warning"
    assert "API health firing warning" in alerts.summary


async def test_a_critical_rule_firing_fails() -> None:
    firing_now = MetricThresholds(critical=ThresholdRule("above", 500))  # no `for`: fires at once
    snapshot = await demo_snapshot("high-latency", api_latency_p95=firing_now)
    result = await check("metric", snapshot, metric="api_latency_p95")
    assert result.status is CheckStatus.FAIL, result
    assert ": above critical 500 ms (firing " in result.summary
    assert result.data["state"] == "firing"
    assert result.data["severity"] == "critical"


async def test_alerts_fail_on_a_critical_firing_and_list_every_alert() -> None:
    thresholds = {
        "active_sessions": MetricThresholds(critical=ThresholdRule("above", 0)),
        "db_pool_usage": MetricThresholds(warning=ThresholdRule("above", 0, for_seconds=600)),
    }
    snapshot = await demo_snapshot(until="active_sessions", **thresholds)
    result = await check("alerts", snapshot)
    assert result.status is CheckStatus.FAIL, result
    assert result.summary == "2 alerts: DB pool pending warning, Sessions firing critical"
    alerts = {alert["metric"]: alert for alert in result.data["alerts"]}
    assert set(alerts) == {"active_sessions", "db_pool_usage"}
    sessions = alerts["active_sessions"]
    assert (sessions["state"], sessions["severity"]) == ("firing", "critical")
    assert sessions["value"] > 0
    assert sessions["since"].endswith("Z")
    assert (alerts["db_pool_usage"]["state"], alerts["db_pool_usage"]["severity"]) == (
        "pending",
        "warning",
    )
    assert any(line.startswith("Sessions (active_sessions) ") for line in result.detail)


async def test_only_a_pending_warning_warns() -> None:
    pending = MetricThresholds(warning=ThresholdRule("above", 0, for_seconds=600))
    snapshot = await demo_snapshot(until="db_pool_usage", db_pool_usage=pending)
    result = await check("alerts", snapshot)
    assert result.status is CheckStatus.WARN, result
    assert result.summary == "1 alert: DB pool pending warning"


async def test_a_failing_source_is_an_error_with_its_reason_and_the_last_value() -> None:
    firing = MetricThresholds(critical=ThresholdRule("above", 0))
    backend = DemoBackend()
    backend.start()
    try:
        monitor = monitor_of(demo_config(backend), active_sessions=firing)
        try:
            await collected(monitor)
            backend.stop()  # the service goes away: the next poll fails
            await monitor.poll_all_once()
            snapshot = monitor.evaluate()
        finally:
            await monitor.aclose()
    finally:
        backend.stop()
    assert snapshot.metric("api_latency_p95").state.state is DisplayState.ERROR
    result = await check("metric", snapshot, metric="api_latency_p95")
    assert result.status is CheckStatus.ERROR, result
    assert result.summary.startswith("API p95: cannot connect: Connection refused (127.0.0.1:")
    assert ") (1 failed poll); last value " in result.summary
    assert result.summary.endswith(" ago")
    assert result.data["last_error"].startswith("cannot connect: Connection refused")
    assert result.data["value"] > 0  # the last good value, still within the staleness window
    # a rule firing when the source failed stays firing (frozen): said, and still an alert
    sessions = await check("metric", snapshot, metric="active_sessions")
    alerts = await check("alerts", snapshot)
    assert sessions.status is CheckStatus.ERROR, sessions
    assert sessions.summary.endswith("; critical was firing when it failed")
    assert alerts.status is CheckStatus.FAIL, alerts
    assert "Sessions firing critical" in alerts.summary
    assert any("source failing: cannot connect" in line for line in alerts.detail)


async def test_never_a_value_is_an_error_and_alerts_cannot_pass() -> None:
    config = Config(api=ApiConfig(metrics_urls=(f"http://127.0.0.1:{closed_port()}/metrics",)))
    monitor = monitor_of(config)
    try:
        await monitor.poll_all_once()
        snapshot = monitor.evaluate()
    finally:
        await monitor.aclose()
    result = await check("metric", snapshot, metric="api_error_rate")
    alerts = await check("alerts", snapshot)
    assert result.status is CheckStatus.ERROR, result
    assert result.summary.startswith("Error rate: cannot connect: Connection refused")
    assert result.summary.endswith("; no sample yet")
    assert alerts.status is CheckStatus.ERROR, alerts
    assert alerts.summary == "no metric has a value"
    assert "api_error_rate" in alerts.data["nodata"]


async def test_without_metrics_both_are_skipped() -> None:
    metric = await check("metric", None, metric="api_latency_p95")
    alerts = await check("alerts", None)
    assert (metric.status, metric.summary) == (CheckStatus.SKIPPED, "no metrics collected here")
    assert (alerts.status, alerts.summary) == (CheckStatus.SKIPPED, "no metrics collected here")


async def test_an_unknown_metric_is_an_error_naming_the_known_ones() -> None:
    unknown = await check("metric", None, metric="api_latency_p42")
    missing = await check("metric", None)
    for result in (unknown, missing):
        assert result.status is CheckStatus.ERROR, result
        assert "known metrics: cpu, memory, disk, api_latency_p50" in result.summary
    assert unknown.summary.startswith("no metric 'api_latency_p42'")


async def test_a_metric_no_source_collects_here_is_skipped() -> None:
    snapshot = await demo_snapshot()  # the demo config has no [postgres]
    result = await check("metric", snapshot, metric="pg_connections")
    assert result.status is CheckStatus.SKIPPED, result
    assert result.summary == "PG conns (pg_connections) is not collected here"
