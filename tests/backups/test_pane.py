"""The Backups pane on the dashboard: its words and colour class, at 80x24 with every pane."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessay_console.config.defaults import THRESHOLDS
from lessay_console.monitor import Monitor, SourcePlan
from lessay_console.samples import Sample, labels_of
from lessay_console.sources.base import PollReport
from lessay_console.widgets.metric_pane import MetricPane
from tests.helpers import await_until
from tests.ui_support import STEP, T0, QuietSource, screen_text, scripted_app, scripted_monitor

pytestmark = pytest.mark.usefixtures("utc")


def with_backups(states: dict[str, float]) -> Monitor:
    """The scripted demo monitor, plus a backups source that reported `states`."""
    base = scripted_monitor()
    plans = [*base.plans, SourcePlan(QuietSource("backups", 300.0), ("backups",), 900.0)]
    monitor = Monitor(base.config, clock=lambda: T0, plans=plans)
    monitor.store = base.store  # the ten minutes of recorded history
    samples = tuple(
        Sample("backup_state", value, labels_of(kind=kind)) for kind, value in states.items()
    )
    monitor.deliver(PollReport("backups", T0 - STEP, 0.5, samples))
    for plan in plans[:-1]:  # the other sources' health, as recorded
        plan.health = next(p.health for p in base.plans if p.source.name == plan.source.name)
    monitor.evaluate(T0)
    return monitor


@pytest.mark.parametrize(
    ("states", "word", "css"),
    [
        ({"db_hourly": 1.0, "db_full": 0.0}, "WARN", "-warn"),
        ({"db_hourly": 0.0, "db_full": 2.0}, "CRIT", "-crit"),
        ({"db_hourly": 0.0, "db_full": 0.0}, "OK", "-ok"),
    ],
)
async def test_the_pane_says_the_worst_kind_in_words(
    tmp_path: Path, states: dict[str, float], word: str, css: str
) -> None:
    monitor = with_backups(states)
    assert monitor.config.thresholds["backups"] == THRESHOLDS["backups"]
    app = scripted_app(monitor, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:

        async def shown() -> str | None:
            await pilot.pause()
            text = screen_text(app)
            return text if "Backups" in text and "…" not in text else None

        text = await await_until(shown, within=5, interval=0.02)
        pane = app.screen.query_one("#pane-backups", MetricPane)
        assert pane.has_class(css)
        assert pane.region.bottom <= 23  # every pane still fits at 80x24
        row = next(line for line in text.splitlines() if "Backups" in line)
        assert row.count(word) >= 1 + (word != "OK")  # the value, and the state when firing
