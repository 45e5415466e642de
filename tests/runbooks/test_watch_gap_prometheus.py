"""A watch step's unwatched time judged from Prometheus's history, against a real server.

`history_prometheus` holds 15 minutes of known history whose last 10 minutes
have a slow API (p95 about 2.3 s). A console that "comes back" after watching
only the start of it must find the alert that fired while nobody watched; one
that comes back before the slow stretch finds nothing.
"""

from __future__ import annotations

from pathlib import Path

from lessay_console.config import Config
from lessay_console.config.model import MetricThresholds, PrometheusConfig, ThresholdRule
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path
from lessay_console.runbooks.engine import RunDeps, RunEngine
from lessay_console.runbooks.model import Phase, Runbook, Step, WatchSpec
from lessay_console.runbooks.state import StepStatus
from lessay_console.runbooks.watching import pending_gap
from tests import prometheus_server as servers
from tests.prometheus_server import HISTORY_SLOW_FOR, PrometheusServer

history_prometheus = servers.history_prometheus

WATCH = Step(
    "watch",
    "Monitor metrics for 20 minutes",
    "watch",
    watch=WatchSpec(20 * 60.0, alerts=("api_latency_p95",), fail_on="warning"),
)
RUNBOOK = Runbook("watch-only", "Watch", "one watch", (Phase("Verification", (WATCH,)),))
OPERATOR = Operator("dana", "bastion-1", None)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def config_for(server: PrometheusServer) -> Config:
    return Config(
        prometheus=PrometheusConfig(url=server.url, interval=15.0),
        thresholds={"api_latency_p95": MetricThresholds(warning=ThresholdRule("above", 1000))},
    )


async def leave_and_come_back(tmp: Path, server: PrometheusServer, back_at: float) -> RunEngine:
    history = server.history
    assert history is not None
    clock = Clock(history.start + 30)
    config = config_for(server)
    deps = RunDeps(config, Journal.open(journal_path(tmp), OPERATOR), OPERATOR, clock=clock)
    engine = await RunEngine.start(RUNBOOK, {}, deps)
    await engine.run(WATCH)
    await engine.release()  # the console closes while the watch runs
    clock.now = back_at
    again = RunDeps(config, Journal.open(journal_path(tmp), OPERATOR), OPERATOR, clock=clock)
    other = RunEngine.load(RUNBOOK, engine.state.id, again)
    await other.attach()
    return other


async def test_an_alert_while_nobody_watched_fails_the_watch(
    tmp_path: Path, history_prometheus: PrometheusServer
) -> None:
    history = history_prometheus.history
    assert history is not None
    engine = await leave_and_come_back(tmp_path, history_prometheus, history.end)
    state = engine.state.steps["watch"]
    gap = next(e for e in state.events if e.kind == "watch.gap")
    assert gap.data["source"] == "prometheus"
    fired = gap.data["firing"]
    assert [f["metric"] for f in fired] == ["api_latency_p95"]
    assert fired[0]["severity"] == "warning"
    # it fired inside the slow stretch, not before it
    assert history.slow_from <= fired[0]["at"] <= history.end
    assert state.status is StepStatus.FAILED
    assert "fired while the console was closed" in state.outcome
    assert pending_gap(engine, WATCH) is None  # Prometheus answered: nothing to ask


async def test_a_quiet_gap_is_recorded_and_the_watch_goes_on(
    tmp_path: Path, history_prometheus: PrometheusServer
) -> None:
    history = history_prometheus.history
    assert history is not None
    back = history.end - HISTORY_SLOW_FOR - 15  # before the API turned slow
    engine = await leave_and_come_back(tmp_path, history_prometheus, back)
    state = engine.state.steps["watch"]
    gap = next(e for e in state.events if e.kind == "watch.gap")
    assert gap.data["source"] == "prometheus" and gap.data["firing"] == []
    assert gap.data["since"] == history.start + 30 and gap.data["until"] == back
    assert state.status is StepStatus.RUNNING
    assert pending_gap(engine, WATCH) is None
