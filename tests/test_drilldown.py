"""The drill-down of one metric, driven from the dashboard with Textual's pilot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Label, Static

from lessay_console.app import LessayConsole
from lessay_console.config.model import MetricThresholds, ThresholdRule
from lessay_console.rules import DisplayState, Severity, Transition
from lessay_console.screens.dashboard import DashboardScreen
from lessay_console.screens.metric import MetricScreen
from lessay_console.widgets.metric_plot import MetricPlot, legend_text, nice_ticks, thin
from lessay_console.widgets.timeline import Timeline, alert_transitions, metric_rows
from tests.ui_support import T0, screen_text, scripted_app, scripted_monitor

pytestmark = pytest.mark.usefixtures("utc")

HIGH_LATENCY = ((0, "normal"), (4, "high-latency"))
SIZE = (120, 40)


def label(app: LessayConsole, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def open_metric(pilot: Pilot, app: LessayConsole, metric: str) -> MetricScreen:
    """Focus the metric's pane on the dashboard and press Enter, as an operator does."""
    await pilot.pause()
    app.screen.query_one(f"#pane-{metric}").focus()
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MetricScreen)
    return screen


async def test_enter_on_a_pane_opens_its_drill_down(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        assert screen.metric == "api_latency_p95"
        assert label(app, "#title") == "API p95"
        assert label(app, "#state") == "WARN"
        assert screen.query_one("#headline").has_class("-warn")
        assert label(app, "#thresholds").startswith("thresholds: warn >500ms 1m · crit >1s 2m")
        assert "critical pending" in label(app, "#thresholds")
        plot = screen.query_one(MetricPlot)
        assert plot.data is not None
        assert plot.data.points
        assert plot.data.thresholds.warning.value == 500
        text = screen_text(app)
        assert "-- warning >500ms 1m" in text
        assert "== critical >1s 2m" in text
        assert "500 ms┤-----" in text  # the warning line, drawn at its value
        assert "1.00 s┤=====" in text
        assert "-5m" in text
        assert "now" in text


async def test_window_keys_switch_the_plot_and_its_extremes(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        plot = screen.query_one(MetricPlot)
        assert label(app, "#window") == "window [5m] 1h 24h"
        five_minutes = label(app, "#extremes")
        assert five_minutes.startswith("min 659 ms")  # high latency all through the window
        for key, name in (("2", "1h"), ("3", "24h"), ("1", "5m"), ("2", "1h")):
            await pilot.press(key)
            await pilot.pause()
            assert screen.window.name == name
            assert plot.data is not None
            assert plot.data.window.name == name
            assert f"[{name}]" in label(app, "#window")
        # an hour reaches back before the incident: the minimum is a normal latency
        assert label(app, "#extremes") != five_minutes
        assert "-60m" in screen_text(app)
        await pilot.press("3")
        await pilot.pause()
        assert "-24h" in screen_text(app)


async def test_escape_and_backspace_go_back_to_the_same_pane(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("escape", "backspace"):
            await open_metric(pilot, app, "db_pool_usage")
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)
            assert app.focused is not None
            assert app.focused.id == "pane-db_pool_usage"


async def test_a_click_on_a_pane_opens_its_drill_down(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#pane-memory")
        await pilot.pause()
        assert isinstance(app.screen, MetricScreen)
        assert app.screen.metric == "memory"


async def test_state_history_lists_the_high_latency_transitions(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        rows = screen.query_one(Timeline).rows
        assert [(r.at - T0, r.word) for r in rows] == [
            (-260, "WARN"),  # fired 1m after the latency crossed 500 ms
            (-320, "PENDING warning"),
            (-595, "OK"),  # the first rate, once two scrapes were in
            (-600, "NODATA"),
        ]
        history = screen_text(app)
        assert "07:55:40  WARN" in history
        assert "07:54:40  PENDING warning" in history
        assert "held 1m00s" in history  # pending lasted the rule's `for`
        assert "ongoing 4m" in history


async def test_error_rate_breakdown_by_service(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_error_rate")
        breakdown = screen.query_one("#breakdown", Static)
        assert breakdown.display
        assert breakdown.border_title == "Error rate by service"
        text = screen_text(app)
        for service in ("api", "auth", "payments"):
            assert f" {service} " in text
        await pilot.press("escape")
        screen = await open_metric(pilot, app, "api_latency_p95")
        assert not screen.query_one("#breakdown").display  # nothing to break down


async def test_pool_breakdown_is_in_connections(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "db_pool_usage")
        breakdown = screen.query_one("#breakdown", Static)
        assert breakdown.border_title == "Pool connections"
        text = "\n".join(s.text for s in breakdown.render_lines(breakdown.region.reset_offset))
        for part, count in (("in_use", 91), ("idle", 9), ("max", 100)):
            assert re.search(rf"{part} +{count} ", text), text
        assert "%" not in text


async def test_a_failing_source_says_why(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY, failing_sources=("scrape",)), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        assert label(app, "#state") == "NODATA"  # the last good sample is past staleness
        why = screen.query_one("#why", Label)
        assert why.display
        assert label(app, "#why").startswith("cannot connect: Connection refused")


async def test_the_plot_is_redrawn_every_5s_of_app_clock_not_every_refresh(
    tmp_path: Path,
) -> None:
    now = [T0]
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        plot = screen.query_one(MetricPlot)
        first = plot.data
        for seconds in (1, 2, 3, 4):
            now[0] = T0 + seconds
            app.refresh_snapshot()
            assert plot.data is first
        now[0] = T0 + 5
        app.refresh_snapshot()
        assert plot.data is not None
        assert plot.data.now == T0 + 5
        now[0] = T0 + 6
        app.refresh_snapshot()
        assert plot.data.now == T0 + 5
        await pilot.press("2")  # a new window is drawn at once
        assert plot.data.now == T0 + 6
        assert plot.data.window.name == "1h"


async def test_palette_offers_the_windows(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metric(pilot, app, "api_latency_p95")
        names = [name for name, _, _ in screen.palette_commands()]
        assert names == [
            "Plot window: 5m",
            "Plot window: 1h",
            "Plot window: 24h",
            "Back to the dashboard",
        ]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"window: 24h")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert screen.window.name == "24h"


async def test_no_color_still_tells_the_state_by_its_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await open_metric(pilot, app, "api_latency_p95")
        text = screen_text(app)
        assert "API p95  1.07 s  WARN" in text
        assert "PENDING warning" in text
        assert "-- warning" in text  # the lines differ by their marks, not only by colour


def test_drill_down_snapshot(snap_compare, tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)

    async def open_latency(pilot: Pilot) -> None:
        await open_metric(pilot, app, "api_latency_p95")

    assert snap_compare(app, terminal_size=SIZE, run_before=open_latency)


# -- the pure parts ----------------------------------------------------------
def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 1180) == [0, 250, 500, 750, 1000, 1250]
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-3, 7) == [-4, -2, 0, 2, 4, 6, 8]


def test_thin_keeps_every_spike() -> None:
    points = [(float(t), 1.0) for t in range(1000)]
    points[500] = (500.0, 99.0)
    kept = thin(points, 50)
    assert len(kept) <= 100
    assert (500.0, 99.0) in kept
    assert kept == sorted(kept)


def test_legend_names_each_line_with_its_mark() -> None:
    rules = MetricThresholds(ThresholdRule("above", 80, 60), ThresholdRule("above", 90, 300))
    assert legend_text("CPU", rules, "%") == "⣿ CPU   -- warning >80% 1m   == critical >90% 5m"
    assert legend_text("CPU", MetricThresholds(), "%") == "⣿ CPU"


def test_history_rows_are_newest_first_with_how_long_each_state_held() -> None:
    def moved(at: float, state: DisplayState, severity: Severity | None) -> Transition:
        return Transition(at, "cpu", state, severity, None, None, 85.0)

    history = (
        moved(0, DisplayState.OK, None),
        moved(60, DisplayState.PENDING, Severity.WARNING),
        moved(360, DisplayState.FIRING, Severity.WARNING),
    )
    rows = metric_rows(history, now=500)
    assert [(r.word, r.held, r.state) for r in rows] == [
        ("WARN", "ongoing 2m", "warn"),
        ("PENDING warning", "held 5m00s", "pending"),
        ("OK", "held 1m00s", "ok"),
    ]
    assert rows[0].value == "85.0%"
    assert alert_transitions(history) == history[1:]  # the first evaluation is no alert
