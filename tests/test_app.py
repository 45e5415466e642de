"""The first screen, driven with Textual's pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from lessay_console.app import LessayConsole
from lessay_console.config import Config, parse_config_text
from lessay_console.context import ConsoleContext
from lessay_console.demo import DemoBackendError, UnknownScenarioError
from lessay_console.demo.launcher import DemoLauncher
from lessay_console.identity import Operator
from tests.helpers import await_until

OPERATOR = Operator("alice", "bastion-1", "203.0.113.7")


def console(config: Config, tmp_path: Path, *, demo: bool = False) -> LessayConsole:
    return LessayConsole(ConsoleContext(config, OPERATOR, tmp_path / "state", demo=demo))


def text_of(app: LessayConsole, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_header_shows_environment_operator_and_demo_badge(tmp_path: Path) -> None:
    app = console(Config(environment="staging"), tmp_path, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert text_of(app, "#environment") == "STAGING"
        assert text_of(app, "#demo-badge") == "DEMO"
        assert text_of(app, "#operator") == "alice@bastion-1"
        assert ":" in text_of(app, "#clock")
        assert not app.screen.query_one("#environment").has_class("-production")


async def test_demo_environment_is_named_once(tmp_path: Path) -> None:
    app = console(Config(environment="demo"), tmp_path, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert text_of(app, "#demo-badge") == "DEMO"
        assert not app.screen.query("#environment")


async def test_production_stands_out_and_has_no_demo_badge(tmp_path: Path) -> None:
    app = console(Config(environment="production"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#environment").has_class("-production")
        assert not app.screen.query("#demo-badge")


async def test_sources_are_listed_with_credentials_masked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PG_DSN", "postgresql://lessay:TopSecret1@db/lessay")
    config = parse_config_text(
        '[api]\nhealth_url = "https://api.example/health"\n[postgres]\ndsn = "env:PG_DSN"\n',
        "c.toml",
    )
    app = console(config, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await pilot.pause()
        rendered = _plain(app, "#sources")
        assert "https://api.example/health" in rendered
        assert "env:PG_DSN" in rendered
        assert "TopSecret1" not in rendered
        assert "not configured" in rendered  # prometheus, payments, ...


def _plain(app: LessayConsole, selector: str) -> str:
    """The text a widget shows, as the terminal would get it."""
    widget = app.screen.query_one(selector)
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


async def test_q_quits(tmp_path: Path) -> None:
    app = console(Config(), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_ctrl_c_quits_rather_than_nagging(tmp_path: Path) -> None:
    app = console(Config(), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
    assert app._exit


async def test_demo_backend_starts_after_the_first_frame_and_stops_with_the_app(
    tmp_path: Path,
) -> None:
    launcher = DemoLauncher("high-latency")
    app = LessayConsole(
        ConsoleContext(Config(environment="demo"), OPERATOR, tmp_path, demo=True), launcher
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await await_until(_monitoring(app, pilot), within=10, interval=0.05)
            backend = launcher.backend
            assert backend is not None
            assert backend.scenario == "high-latency"
            assert app.context.demo_url == backend.url
            assert app.monitor is not None
            assert app.monitor.config.api.health_url == f"{backend.url}/health"
            await pilot.press("i")
            await pilot.pause()
            sources = _plain(app, "#sources")
            assert f"{backend.url}/health" in sources
            assert "starting" not in sources
    finally:
        launcher.stop()
    assert launcher.backend is not None
    with pytest.raises(DemoBackendError):
        launcher.start()  # stopped for good: a late start cannot leak a server


def _monitoring(app: LessayConsole, pilot):
    async def probe() -> bool:
        await pilot.pause()
        return app.monitor is not None and app.context.demo_url is not None

    return probe


def test_unknown_scenario_is_refused_before_anything_starts() -> None:
    with pytest.raises(UnknownScenarioError, match="choose one of: normal, high-latency"):
        DemoLauncher("meltdown")
