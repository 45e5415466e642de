"""A deterministic console for UI and snapshot tests: recorded history, a stopped clock.

The monitor is fed ten minutes of the demo model's series (seeded), with the
scenario switched on a timeline, then frozen at `T0`: no pollers run, the
clock does not move, so every render of the same script is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from lessay_console.app import LessayConsole
from lessay_console.config import Config
from lessay_console.config.defaults import THRESHOLDS
from lessay_console.context import ConsoleContext
from lessay_console.demo.exposition import render_metrics
from lessay_console.demo.model import DemoModel
from lessay_console.demo.settings import DEMO_THRESHOLDS
from lessay_console.identity import Operator
from lessay_console.monitor import APP_METRICS, Monitor, SourcePlan
from lessay_console.samples import Sample, SourceFailure, labels_of
from lessay_console.sources.base import PollReport
from lessay_console.sources.exposition import parse_exposition

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
STEP = 5.0
OPERATOR = Operator("alice", "bastion-1", None)
HEALTH_LEVEL = {"db-exhaustion": 2.0, "high-latency": 1.0, "login-failures": 1.0}


class QuietSource:
    """A source that is never polled: the tests deliver its reports themselves."""

    def __init__(self, name: str, interval: float) -> None:
        self.name, self.interval, self.timeout = name, interval, interval

    async def collect(self):
        raise SourceFailure("internal", "not polled in tests")

    async def close(self) -> None:
        return None


def scripted_monitor(
    timeline: Sequence[tuple[float, str]] = ((0, "normal"),),
    minutes: float = 10,
    config: Config | None = None,
    failing_sources: Sequence[str] = (),
) -> Monitor:
    """A monitor with `minutes` of history ending at T0; `timeline` is (minute, scenario)."""
    config = config or Config(environment="demo", thresholds={**THRESHOLDS, **DEMO_THRESHOLDS})
    plans = [
        SourcePlan(QuietSource("host", 2.0), ("cpu", "memory", "disk"), 6.0),
        SourcePlan(QuietSource("scrape", STEP), APP_METRICS, 3 * STEP),
        SourcePlan(QuietSource("health", STEP), ("api_health",), 3 * STEP),
    ]
    monitor = Monitor(config, clock=lambda: T0, plans=plans)
    start = T0 - minutes * 60
    model = DemoModel(7, timeline[0][1], start - 300, start - 300)
    model.advance_to(start)
    steps = int(minutes * 60 / STEP)
    for index in range(steps + 1):
        t = start + index * STEP
        minute = (t - start) / 60
        scenario = [name for at, name in timeline if at <= minute][-1]
        if model.scenario.name != scenario:
            model.set_scenario(scenario)
        model.advance_to(t)
        body = render_metrics(model)[0].decode()
        samples, _ = parse_exposition(body, {"instance": "demo:8765"})
        for source, batch in (
            ("scrape", samples),
            ("host", _host(t)),
            ("health", [Sample("health_status", HEALTH_LEVEL.get(scenario, 0.0))]),
        ):
            if source in failing_sources and index > steps - 4:
                error = SourceFailure("connect", "cannot connect: Connection refused")
                monitor.deliver(PollReport(source, t, 0.01, error=error))
            else:
                monitor.deliver(PollReport(source, t, 0.01, tuple(batch)))
        monitor.evaluate(t)
    return monitor


def _host(t: float) -> list[Sample]:
    return [
        Sample("host_cpu_percent", round(38 + 12 * math.sin(t / 90), 1)),
        Sample("host_memory_percent", 61.5),
        Sample("host_disk_percent", 71.2, labels_of(mount="/")),
    ]


def scripted_app(
    monitor: Monitor,
    tmp_path: Path,
    *,
    demo: bool = True,
    war_room: bool = False,
    clock: Callable[[], float] = lambda: T0,
    environment: str = "demo",
) -> LessayConsole:
    context = ConsoleContext(
        replace(monitor.config, environment=environment),
        OPERATOR,
        tmp_path,
        demo=demo,
        demo_url="http://127.0.0.1:8765" if demo else None,
    )
    return LessayConsole(context, war_room=war_room, monitor=monitor, clock=clock)


def screen_text(app: LessayConsole) -> str:
    """What the terminal shows, as text (the compositor's lines, styles dropped)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
