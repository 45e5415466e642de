"""Two consoles on one run, in two processes: one holds it, the other sees who, watches,
takes over (recorded), and the first loses its hold at its next transition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from lessay_console.app import LessayConsole
from lessay_console.config import Config
from lessay_console.context import ConsoleContext
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path, verify
from lessay_console.runbooks.engine import RunDeps, RunEngine, RunHeld
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.model import Runbook
from lessay_console.runbooks.state import STREAM_PREFIX, StepStatus
from lessay_console.screens.run import RunScreen
from lessay_console.screens.runbooks import HeldScreen
from tests.runbooks.driver_support import HOST, Driver, kinds, write_user_runbook
from tests.ui_support import T0, screen_text, scripted_monitor
from tests.wizard_support import until

HANDOVER = """
[runbook]
id = "handover"
title = "Handover"
description = "Three manual steps, for two consoles."

[[step]]
id = "first"
title = "First step"
kind = "manual"

[[step]]
id = "second"
title = "Second step"
kind = "manual"

[[step]]
id = "third"
title = "Third step"
kind = "manual"
"""

ERIN = Operator("erin", HOST, None)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Driver, str]]:
    """A process holding a fresh run of "handover" as dana, waiting for commands."""
    write_user_runbook("handover", HANDOVER)
    driver = Driver(tmp_path / "state", "dana", "handover", "hold")
    try:
        yield driver, STREAM_PREFIX + driver.run_id()
    finally:
        driver.close()


def handover() -> Runbook:
    runbooks, problems = load_runbooks(Config())
    assert problems == []
    return next(r for r in runbooks if r.id == "handover")


async def test_the_second_console_sees_the_holder_watches_and_takes_over(
    tmp_path: Path, holder: tuple[Driver, str]
) -> None:
    driver, stream = holder
    state_dir = tmp_path / "state"
    with Journal.open(journal_path(state_dir), ERIN) as journal:
        engine = RunEngine.load(handover(), stream, RunDeps(Config(), journal, ERIN))
        with pytest.raises(RunHeld) as held:
            await engine.attach()
        who = held.value.holder
        assert (who.operator, who.host, who.pid) == ("dana", HOST, driver.pid)
        assert abs(who.since - time.time()) < 60
        assert f"dana on {HOST} (pid {driver.pid})" in str(held.value)
        assert not engine.holding
        assert kinds(journal.events(stream)) == ["run.started", "run.held"]  # refused: nothing

        # watching: the holder's progress shows on a refresh
        driver.send("confirm first checked by dana")
        assert driver.line() == "ok first"
        assert engine.state.steps["first"].status is StepStatus.PENDING  # not looked yet
        assert kinds(engine.refresh()) == ["step.started", "step.completed"]
        first = engine.state.steps["first"]
        assert first.status is StepStatus.DONE and first.by == "dana"
        assert first.note == "checked by dana"
        assert engine.current.id == "second"

        # taking over, explicitly: recorded with whom it was taken from
        await engine.attach(take_over=True)
        assert engine.holding
        took = journal.events(stream)[-1]
        assert took.kind == "run.held" and took.operator == "erin"
        assert took.data["took_over_from"]["operator"] == "dana"
        assert took.data["took_over_from"]["host"] == HOST
        assert took.data["took_over_from"]["pid"] == driver.pid

        # the first console's next transition is refused: it lost the run
        driver.send("confirm second")
        assert driver.line().startswith("LostHold: erin on ")
        assert engine.state.steps["second"].status is StepStatus.PENDING
        assert "step.started" not in kinds(journal.events(stream, after=took.seq))
        await engine.confirm(engine.runbook.step("second"), "erin took it from here")
        assert engine.state.steps["second"].by == "erin"
    assert verify(journal_path(state_dir)).ok


async def test_the_run_screen_watches_read_only_then_takes_over(
    tmp_path: Path, holder: tuple[Driver, str]
) -> None:
    driver, stream = holder
    context = ConsoleContext(Config(environment="test"), ERIN, tmp_path / "state")
    app = LessayConsole(context, monitor=scripted_monitor(), clock=lambda: T0)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.open_run(stream)
        await until(pilot, lambda: isinstance(app.screen, HeldScreen))
        assert f"held by dana on {HOST} (pid {driver.pid})" in screen_text(app)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        heading = str(screen.query_one("#heading", Static).content)
        assert f"WATCHING: held by dana on {HOST} (pid {driver.pid})" in heading
        assert screen.query_one("#heading").has_class("-watching")
        assert not screen.engine.holding

        # Enter on a step while watching asks nothing, records nothing, says how to take over
        await pilot.press("enter", "n")
        await pilot.pause()
        assert app.screen is screen  # no note asked for
        said = [n.message for n in app._notifications]
        assert said == ["Watching only: t takes this run over (recorded)."] * 2
        assert kinds(screen.engine.deps.journal.events(stream)) == ["run.started", "run.held"]

        # the holder confirms a step: the watching screen follows (it re-reads the journal)
        driver.send("confirm first")
        assert await asyncio.to_thread(driver.line) == "ok first"
        await until(pilot, lambda: prompt(screen, "first").startswith("✓ First step"), 5)

        await pilot.press("t")
        await until(pilot, lambda: screen.engine.holding)
        await until(pilot, lambda: "held by you" in str(screen.query_one("#heading").content))
        assert not screen.query_one("#heading").has_class("-watching")
        took = screen.engine.deps.journal.events(stream)[-1]
        assert took.kind == "run.held" and took.data["took_over_from"]["pid"] == driver.pid

        driver.send("confirm second")
        assert (await asyncio.to_thread(driver.line)).startswith("LostHold: ")


def prompt(screen: RunScreen, step_id: str) -> str:
    steps = screen.query_one("#steps", OptionList)
    return str(steps.get_option(step_id).prompt)
