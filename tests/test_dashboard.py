"""The dashboard: layouts, states in words and colours, navigation, scenario switching."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessay_console.app import LessayConsole
from lessay_console.context import ConsoleContext
from lessay_console.demo.launcher import DemoLauncher
from lessay_console.widgets.metric_pane import MetricPane
from tests.helpers import GUIDE_METRICS, await_until
from tests.ui_support import OPERATOR, screen_text, scripted_app, scripted_monitor

pytestmark = pytest.mark.usefixtures("utc")

FAILING = ((0, "normal"), (3, "high-latency"))


async def settled(app: LessayConsole, pilot) -> None:
    async def shown() -> bool:
        await pilot.pause()
        return bool(app.screen.query(MetricPane)) and "…" not in screen_text(app)

    await await_until(shown, within=5, interval=0.02)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_every_guide_metric_is_on_screen_and_nothing_is_cut(tmp_path: Path, size) -> None:
    app = scripted_app(scripted_monitor(), tmp_path)
    async with app.run_test(size=size) as pilot:
        await settled(app, pilot)
        text = screen_text(app)
        for name in GUIDE_METRICS:
            pane = app.screen.query_one(f"#pane-{name}", MetricPane)
            assert pane.spec.title in text, name
            region = pane.region
            assert region.right <= size[0] and region.bottom <= size[1] - 1, (name, region)
        assert "…" not in text  # no label had to be cut with an ellipsis
        compact = app.screen.query_one("#panes").has_class("-compact")
        assert compact == (size == (80, 24))


async def test_a_failing_scenario_shows_warn_in_words_and_the_alert_bar(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(FAILING), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        pane = app.screen.query_one("#pane-api_latency_p95", MetricPane)
        assert pane.has_class("-warn") or pane.has_class("-crit")
        text = screen_text(app)
        row = next(line for line in text.splitlines() if "API p95" in line)
        assert "WARN" in row or "CRIT" in row
        alert_line = text.splitlines()[1]
        assert "API p95" in alert_line
        cpu = app.screen.query_one("#pane-cpu", MetricPane)
        assert cpu.has_class("-ok")


async def test_no_color_still_tells_state_by_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = scripted_app(scripted_monitor(FAILING), tmp_path)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        text = screen_text(app)
        assert "OK" in text and ("WARN" in text or "CRIT" in text)
        assert "PENDING" in text or "WARN" in text


async def test_arrow_keys_move_between_panes_and_enter_opens_details(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        assert app.focused.id == "pane-cpu"
        await pilot.press("down", "down")
        assert app.focused.id == "pane-disk"
        await pilot.press("up")
        assert app.focused.id == "pane-memory"
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "MetricScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_a_click_opens_details(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        await pilot.click("#pane-api_error_rate")
        await pilot.pause()
        assert type(app.screen).__name__ == "MetricScreen"


async def test_the_scenario_key_switches_the_demo_backend(tmp_path: Path) -> None:
    launcher = DemoLauncher("normal")
    from lessay_console.config import Config

    app = LessayConsole(
        ConsoleContext(Config(environment="demo"), OPERATOR, tmp_path, demo=True), launcher
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:

            async def up() -> bool:
                await pilot.pause()
                return launcher.backend is not None and app.monitor is not None

            await await_until(up, within=10, interval=0.05)
            await pilot.press("s")
            await pilot.pause()
            assert type(app.screen).__name__ == "ScenarioScreen"
            await pilot.press("down", "enter")  # the second scenario: high-latency
            await pilot.pause()
            assert launcher.backend.scenario == "high-latency"
            assert type(app.screen).__name__ == "DashboardScreen"
    finally:
        launcher.stop()


async def test_the_scenario_key_says_it_needs_the_demo(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(), tmp_path, demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"
        assert any("demo" in str(n.message) for n in app._notifications)


async def test_help_and_palette_list_the_actions(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"War room", "Sources", "Help"} <= set(titles)
        assert "Demo scenario" not in titles  # only with a demo backend to switch


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("timeline", [((0, "normal"),), FAILING], ids=["normal", "high-latency"])
def test_snapshot(snap_compare, tmp_path: Path, size, timeline) -> None:
    app = scripted_app(scripted_monitor(timeline), tmp_path)

    async def settle(pilot) -> None:
        await settled(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=settle)
