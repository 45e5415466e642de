"""The metrics engine end to end: the demo backend over HTTP, the store, the rules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from lessay_console.config.model import ApiConfig, MetricsConfig, MetricThresholds, ThresholdRule
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.settings import demo_config
from lessay_console.monitor import Monitor, Snapshot, exit_code, worst_exit_code, worst_of
from lessay_console.rules import DisplayState, Evaluator, Phase, Severity
from tests.helpers import GUIDE_METRICS, await_until

FOR = 3.0


def fast(backend: DemoBackend, **thresholds: MetricThresholds) -> Monitor:
    """The demo configuration, polled every 0.3 s with a 3 s window, so tests take seconds."""
    config = demo_config(backend)
    config = replace(
        config,
        api=replace(config.api, interval=0.3, timeout=1.0, staleness=1.5),
        metrics=MetricsConfig(window=3.0),
        thresholds={**config.thresholds, **thresholds},
        # the demo's backup catalog has its designed gap: a warning whatever the scenario
        backups=replace(config.backups, directory=None),
    )
    return Monitor(config)


@contextlib.asynccontextmanager
async def running(monitor: Monitor) -> AsyncIterator[Monitor]:
    task = asyncio.create_task(monitor.run())
    try:
        yield monitor
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await monitor.aclose()


def state_of(snapshot: Snapshot, metric: str) -> DisplayState:
    return snapshot.metric(metric).state.state


async def test_every_guide_metric_has_a_value_unit_and_state() -> None:
    with DemoBackend() as backend:
        monitor = fast(backend)
        async with running(monitor):
            snapshot = await await_until(lambda: _all_values(monitor), within=10, interval=0.2)
    names = {m.spec.name for m in snapshot.metrics}
    assert set(GUIDE_METRICS) <= names
    for status in snapshot.metrics:
        if status.source == "host":  # this machine's real CPU may be busy: never NODATA
            assert status.state.state in (DisplayState.OK, DisplayState.PENDING), status
        else:
            assert status.state.state is DisplayState.OK, status
        assert status.age is not None and status.age < 2
    assert 30 < snapshot.metric("api_latency_p95").reading.value < 400
    assert worst_exit_code(snapshot) == 0


async def _all_values(monitor: Monitor) -> Snapshot | None:
    snapshot = monitor.evaluate()
    return snapshot if all(m.reading.value is not None for m in snapshot.metrics) else None


async def test_high_latency_goes_pending_then_firing_after_for() -> None:
    rule = ThresholdRule("above", 500, for_seconds=FOR)
    with DemoBackend() as backend:
        monitor = fast(backend, api_latency_p95=MetricThresholds(warning=rule))
        async with running(monitor):
            await await_until(lambda: _state(monitor, "api_latency_p95", DisplayState.OK), 10)
            backend.set_scenario("high-latency")
            pending = await await_until(
                lambda: _state(monitor, "api_latency_p95", DisplayState.PENDING), 15, 0.1
            )
            firing = await await_until(
                lambda: _state(monitor, "api_latency_p95", DisplayState.FIRING), 15, 0.1
            )
            assert firing.state.severity is Severity.WARNING
            held = firing.state.since - pending.state.warning.active_since
            assert held >= FOR - 0.01
            assert worst_exit_code(monitor.evaluate()) == 1
            backend.set_scenario("normal")
            await await_until(lambda: _state(monitor, "api_latency_p95", DisplayState.OK), 20)


async def _state(monitor: Monitor, metric: str, wanted: DisplayState):
    status = monitor.evaluate().metric(metric)
    return status if status.state.state is wanted else None


async def test_a_source_failure_freezes_alerts_then_goes_nodata() -> None:
    firing_now = ThresholdRule("above", 0)  # any traffic at all fires: a known firing state
    backend = DemoBackend()
    backend.start()
    monitor = fast(backend, active_sessions=MetricThresholds(critical=firing_now))
    try:
        async with running(monitor):
            await await_until(lambda: _state(monitor, "active_sessions", DisplayState.FIRING), 10)
            backend.stop()  # the host goes down
            error = await await_until(
                lambda: _state(monitor, "active_sessions", DisplayState.ERROR), 5, 0.05
            )
            assert error.state.critical.phase is Phase.FIRING  # frozen, not cleared
            assert error.state.failed_polls >= 1
            assert "cannot connect" in error.error
            assert worst_exit_code(monitor.evaluate()) == 2  # still critical while frozen
            nodata = await await_until(
                lambda: _state(monitor, "active_sessions", DisplayState.NODATA), 5, 0.05
            )
            assert nodata.reading.value is None
            assert nodata.state.critical.phase is Phase.OK
            assert "cannot connect" in nodata.error  # the reason stays visible
            assert worst_exit_code(monitor.evaluate()) == 3
            # the other sources are untouched (the real CPU may be busy: pending is fine)
            assert monitor.evaluate().metric("cpu").state.state in (
                DisplayState.OK,
                DisplayState.PENDING,
            )
    finally:
        backend.stop()


async def test_one_dead_source_never_delays_the_others() -> None:
    with DemoBackend() as backend:
        config = demo_config(backend)
        config = replace(
            config,
            api=ApiConfig(
                health_url="http://127.0.0.1:9/health",
                metrics_urls=config.api.metrics_urls,
                interval=0.3,
                timeout=5.0,
                staleness=1.5,
            ),
            metrics=MetricsConfig(window=3.0),
        )
        monitor = Monitor(config)
        async with running(monitor):
            snapshot = await await_until(
                lambda: _value_of(monitor, "active_sessions"), within=4, interval=0.1
            )
    assert snapshot.metric("api_health").reading.value is None


async def _value_of(monitor: Monitor, metric: str) -> Snapshot | None:
    snapshot = monitor.evaluate()
    return snapshot if snapshot.metric(metric).reading.value is not None else None


@pytest.mark.parametrize(
    ("states", "code"),
    [((), 0), (("nodata",), 3), (("warning", "nodata"), 1), (("critical", "warning"), 2)],
)
def test_exit_code_follows_nagios(states: tuple[str, ...], code: int) -> None:
    rule = ThresholdRule("above", 1)
    evaluator = Evaluator(
        {
            "w": MetricThresholds(warning=rule),
            "c": MetricThresholds(critical=rule),
            "n": MetricThresholds(warning=rule),
        }
    )
    results = [
        evaluator.evaluate("w", 2.0 if "warning" in states else 0.0, 0.0),
        evaluator.evaluate("c", 2.0 if "critical" in states else 0.0, 0.0),
        evaluator.evaluate("n", None if "nodata" in states else 0.0, 0.0),
    ]
    assert worst_of(exit_code(state) for state in results) == code
