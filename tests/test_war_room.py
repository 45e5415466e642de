"""The war room: big numbers, the incident clock and the alert timeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Digits, Label

from lessay_console.app import LessayConsole
from lessay_console.catalog import METRICS
from lessay_console.derived import Reading
from lessay_console.rules import DisplayState
from lessay_console.screens.dashboard import DashboardScreen
from lessay_console.screens.war_room import WarRoomScreen
from lessay_console.widgets.big_number import BigNumber, big_value, split_value
from lessay_console.widgets.console_header import Clock
from lessay_console.widgets.incident_clock import IncidentClock, format_clock, incident_of
from lessay_console.widgets.timeline import Timeline
from tests.ui_support import T0, screen_text, scripted_app, scripted_monitor

pytestmark = pytest.mark.usefixtures("utc")

HIGH_LATENCY = ((0, "normal"), (4, "high-latency"))
CALM = ((0, "normal"),)


def card(app: LessayConsole, metric: str) -> tuple[str, str, str]:
    """(state word, digits, line under the digits) of a key number."""
    big = app.screen.query_one(f"#big-{metric}", BigNumber)
    state = str(big.query_one(".state", Label).render())
    meta = str(big.query_one(".meta", Label).render())
    return state, big.query_one(Digits).value, meta


async def test_w_opens_the_war_room_and_w_or_escape_leaves_it(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for leave in ("w", "escape"):
            await pilot.press("w")
            await pilot.pause()
            assert isinstance(app.screen, WarRoomScreen)
            await pilot.press(leave)
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)


async def test_war_room_flag_starts_in_it(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WarRoomScreen)
        assert card(app, "api_latency_p95")[0] == "WARN"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_key_numbers_in_big_digits_with_their_state(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert card(app, "api_latency_p95") == ("WARN", "1,065", "ms · for 4m")
        assert card(app, "api_error_rate") == ("OK", "0.9", "% · for 9m")
        assert card(app, "payment_success_rate")[:2] == ("OK", "99.3")
        assert card(app, "active_sessions") == ("OK", "1,735", "for 10m")
        assert card(app, "db_latency_p95")[0] == "WARN"
        latency = app.screen.query_one("#big-api_latency_p95")
        assert latency.has_class("-warn")
        assert app.screen.query_one("#big-db_latency_p95").display


async def test_at_80x24_four_cards_and_the_clock_and_timeline_fit(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-narrow")
        assert not screen.query_one("#big-db_latency_p95").display
        for name in ("api_latency_p95", "api_error_rate", "payment_success_rate"):
            region = screen.query_one(f"#big-{name}").region
            assert region.right <= 80
            assert region.width >= 18  # "1,065" and its border
        timeline = screen.query_one("#timeline-box").region
        assert timeline.height >= 6
        assert timeline.bottom <= 23  # above the footer


async def test_at_80x24_the_longest_title_and_state_word_fit_side_by_side(
    tmp_path: Path,
) -> None:
    app = scripted_app(scripted_monitor(((0, "payment-failures"),)), tmp_path, war_room=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert card(app, "api_error_rate")[0] == "PENDING"
        top_of_cards = screen_text(app).splitlines()[2]
        assert "Error rate PENDING" in top_of_cards
        assert "Pay success" in top_of_cards
        assert "…" not in top_of_cards


async def test_incident_clock_counts_from_the_first_alert_still_firing(tmp_path: Path) -> None:
    now = [T0]
    monitor = scripted_monitor(HIGH_LATENCY)
    app = scripted_app(monitor, tmp_path, war_room=True, clock=lambda: now[0])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.snapshot is not None
        incident = incident_of(app.snapshot)
        assert incident is not None
        # API health fires at once (no `for`) when the scenario turns, at minute 4 of 10
        assert incident.began == T0 - 360
        assert incident.first == "API health"
        clock = app.screen.query_one(IncidentClock)
        assert clock.query_one(Digits).value == "0:06:00"
        about = str(clock.query_one(".about", Label).render())
        assert "INCIDENT since 07:54:00" in about
        assert "4 metrics firing" in about
        now[0] = T0 + 65  # the clock ticks on its own, between snapshots
        clock.tick()
        assert clock.query_one(Digits).value == "0:07:05"


async def test_no_incident_when_nothing_fires(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(CALM), tmp_path, war_room=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        snapshot = app.snapshot
        assert snapshot is not None
        assert not [m for m in snapshot.metrics if m.state.state is DisplayState.FIRING]
        clock = app.screen.query_one(IncidentClock)
        assert clock.has_class("-calm")
        assert not clock.query_one(Digits).display
        assert "no incident" in screen_text(app)
        assert "no alert since the console started" in screen_text(app)


async def test_no_incident_says_how_many_metrics_have_no_data(tmp_path: Path) -> None:
    monitor = scripted_monitor(CALM, failing_sources=("scrape",))
    app = scripted_app(monitor, tmp_path, war_room=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "no incident" in text
        assert "9 without data" in text  # every scraped metric: "no incident" is not "all well"
        assert card(app, "api_latency_p95")[:2] == ("NODATA", "-")


async def test_alert_timeline_merges_every_metric_newest_first(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        rows = app.screen.query_one(Timeline).rows
        assert [(row.at - T0, row.metric, row.word, row.held) for row in rows] == [
            (-260, "api_latency_p95", "WARN", "ongoing 4m"),
            (-295, "db_latency_p95", "WARN", "ongoing 4m"),
            (-300, "db_pool_usage", "WARN", "ongoing 5m"),
            (-320, "api_latency_p95", "PENDING warning", "held 1m00s"),
            (-360, "db_pool_usage", "PENDING warning", "held 1m00s"),
            (-360, "api_health", "WARN", "ongoing 6m"),
        ]
        text = screen_text(app)
        assert "07:55:40  API p95     WARN" in text
        assert "degraded" in text  # API health's value as a word


async def test_no_color_still_tells_the_state_by_its_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        text = screen_text(app)
        assert re.search(r"API p95 +WARN", text)
        assert re.search(r"Error rate +OK", text)
        assert "INCIDENT since 07:54:00" in text
        assert "PENDING warning" in text


async def test_repaints_of_the_dashboard_beneath_do_not_resend_the_war_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's clock ticks every second under the war room; Textual forwards each
    repaint of it to the screen on top, which then sent all of itself (20 KB/s at 120x40)."""
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        updates: list[str] = []
        display = app._display  # what would be written to the terminal, headless or not

        def record(screen: Screen, renderable: object) -> None:
            updates.append(type(renderable).__name__)
            display(screen, renderable)

        monkeypatch.setattr(app, "_display", record)
        dashboard = app.screen_stack[-2]
        assert isinstance(dashboard, DashboardScreen)
        for second in range(3):
            dashboard.query_one(Clock).update(f"08:00:0{second} UTC")
            await pilot.pause(0.05)
        assert "LayoutUpdate" not in updates  # no full-screen update


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_war_room_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = scripted_app(scripted_monitor(HIGH_LATENCY), tmp_path, war_room=True)

    async def settle(pilot: Pilot) -> None:
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)


# -- the pure parts ----------------------------------------------------------
def test_format_clock_counts_hours_past_a_day() -> None:
    assert format_clock(0) == "0:00:00"
    assert format_clock(360) == "0:06:00"
    assert format_clock(27 * 3600 + 190) == "27:03:10"
    assert format_clock(-5) == "0:00:00"


def test_big_values_keep_digits_apart_from_units() -> None:
    assert split_value("3.7%") == ("3.7", "%")
    assert split_value("1,735") == ("1,735", "")
    assert split_value("≥2.50 s") == ("2.50", "≥ s")
    assert split_value("-") == ("-", "")
    latency = METRICS["api_latency_p95"]
    assert big_value(latency, Reading(1065.01)) == ("1,065", "ms")  # not "1.07 s"
    assert big_value(latency, Reading(2500.0, at_least=True)) == ("2,500", "≥ ms")
    assert big_value(latency, Reading(None)) == ("-", "")
