"""The run screen, driven by keys: start through `b` and the parameters, confirm, run,
confirm a dangerous command, stream output, override, skip, read-only, export; snapshots.

The site's commands are small `sh -c` scripts (a marker file proves whether one
ran); the metrics are the scripted monitor's, frozen at T0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Log, OptionList

from lessay_console.app import LessayConsole
from lessay_console.config import Config
from lessay_console.config.defaults import THRESHOLDS
from lessay_console.context import ConsoleContext
from lessay_console.demo.settings import DEMO_THRESHOLDS
from lessay_console.journal import Journal
from lessay_console.runbooks.engine import RunDeps, RunEngine
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.state import STREAM_PREFIX, StepStatus
from lessay_console.screens.run import RunScreen
from lessay_console.screens.runbooks import ParamsScreen, RunbooksScreen
from lessay_console.widgets.prompts import ConfirmCommand, NoteInput
from tests.ui_support import OPERATOR, T0, screen_text, scripted_monitor
from tests.wizard_support import text_of, until

pytestmark = pytest.mark.usefixtures("utc")


def site_commands(tmp: Path) -> dict[str, tuple[str, ...]]:
    """What the Version Upgrade names, as shell one-liners. `migrate` leaves a marker;
    `drain` waits for a gate file between its two lines; `smoke_test` fails."""
    return {
        "backup_snapshot": ("sh", "-c", "echo snapshot taken"),
        "drain": (
            "sh",
            "-c",
            'echo draining; while [ ! -e "$1" ]; do sleep 0.02; done; echo drained',
            "sh",
            str(tmp / "gate"),
        ),
        "deploy": ("sh", "-c", "echo deployed {version} to {percent}%"),
        "migrate": ("sh", "-c", 'touch "$1"; echo migrated to {version}', "sh", str(tmp / "ran")),
        "smoke_test": ("sh", "-c", "echo 'FAIL login: 503'; exit 1"),
        "rollback": ("sh", "-c", "echo rolled back"),
    }


def site_config(tmp: Path, **commands: tuple[str, ...]) -> Config:
    return Config(
        environment="staging",
        thresholds={**THRESHOLDS, **DEMO_THRESHOLDS},
        commands={**site_commands(tmp), **commands},
    )


def console(tmp: Path, *, read_only: bool = False, config: Config | None = None) -> LessayConsole:
    config = config or site_config(tmp)
    context = ConsoleContext(config, OPERATOR, tmp / "state", read_only=read_only)
    return LessayConsole(context, monitor=scripted_monitor(config=config), clock=lambda: T0)


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """Open unless a test closes it: `drain` then runs through."""
    path = tmp_path / "gate"
    path.touch()
    return path


# -- driving -------------------------------------------------------------------------
async def start_upgrade(pilot: Pilot, app: LessayConsole, version: str = "2.5.0") -> RunScreen:
    await pilot.pause()
    await pilot.press("b")
    await until(pilot, lambda: isinstance(app.screen, RunbooksScreen), what="runbooks")
    books = app.screen.query_one("#books", OptionList)
    books.highlighted = books.get_option_index("book:version-upgrade")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ParamsScreen), what="parameters")
    await pilot.press(*version, "enter")
    await until(pilot, lambda: isinstance(app.screen, RunScreen), what="run screen")
    assert isinstance(app.screen, RunScreen)
    return app.screen


def status(screen: RunScreen, step_id: str) -> StepStatus:
    return screen.engine.state.steps[step_id].status


def row(screen: RunScreen, step_id: str) -> str:
    """The step's line in the list, as shown: mark, title, outcome."""
    return str(screen.query_one("#steps", OptionList).get_option(step_id).prompt)


def journaled(screen: RunScreen, kind: str, step_id: str | None = None) -> list:
    events = screen.engine.deps.journal.events(screen.engine.state.id)
    return [e for e in events if e.kind == kind and (step_id is None or e.data["step"] == step_id)]


def notes(app: LessayConsole) -> list[str]:
    return [n.message for n in app._notifications]


async def settled(pilot: Pilot, screen: RunScreen, done: Callable[[], object]) -> None:
    await until(pilot, lambda: done() and not screen.busy, what="the intent done")


async def confirm(pilot: Pilot, screen: RunScreen, step_id: str, note: str) -> None:
    """Enter, the note, Enter: the current (manual) step done."""
    assert screen.engine.current.id == step_id
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(screen.app.screen, NoteInput), what="note prompt")
    await write(pilot, note)
    await settled(pilot, screen, lambda: status(screen, step_id) is StepStatus.DONE)


async def write(pilot: Pilot, text: str) -> None:
    """Into the prompt's field (typed key by key for a short text: 70 ms a key), then Enter."""
    if len(text) <= 8:
        await pilot.press(*text)
    else:
        pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def run(pilot: Pilot, screen: RunScreen, step_id: str, *keys: str) -> None:
    """Enter (and `keys`, for a confirmation): the current step run until it settles."""
    assert screen.engine.current.id == step_id
    await pilot.press("enter", *keys)
    await settled(
        pilot,
        screen,
        lambda: (
            status(screen, step_id) not in (StepStatus.PENDING, StepStatus.RUNNING)
            or screen.engine.current.id != step_id
            or screen.engine.state.steps[step_id].stages_done
        ),
    )


async def reason(pilot: Pilot, screen: RunScreen, key: str, text: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(screen.app.screen, NoteInput), what="reason prompt")
    await write(pilot, text)
    await until(pilot, lambda: screen.app.screen is screen and not screen.busy, what="back")


async def to_migrations(pilot: Pilot, screen: RunScreen) -> None:
    await confirm(pilot, screen, "notify-stakeholders", "announced on #status")
    await run(pilot, screen, "create-backup-snapshot")
    await confirm(pilot, screen, "document-rollback", "redeploy 2.4.1, restore the snapshot")
    await run(pilot, screen, "drain-old-version")
    await run(pilot, screen, "deploy-canary")
    assert screen.engine.current.id == "run-migrations"


# -- the tests -----------------------------------------------------------------------
async def test_start_through_the_parameters_a_bad_version_refused(tmp_path: Path) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, RunbooksScreen))
        assert "none yet" in screen_text(app)  # no run recorded
        books = app.screen.query_one("#books", OptionList)
        books.highlighted = books.get_option_index("book:version-upgrade")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        params = app.screen
        assert "Start Version Upgrade" in screen_text(app)
        await pilot.press(*"2.5", "enter")
        await pilot.pause()
        assert app.screen is params  # refused, with why
        errors = text_of(params, "#errors")
        assert "version: '2.5' does not match" in errors and r"\d+\.\d+\.\d+" in errors
        assert app.journal().streams(STREAM_PREFIX) == []  # nothing started
        field = params.query_one(Input)
        field.value = ""
        await pilot.press(*"2.5.0", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        heading = text_of(screen, "#heading")
        assert heading.startswith("Version Upgrade version=2.5.0 · 0/10 steps · held by you")
        assert row(screen, "notify-stakeholders").startswith("→ Notify stakeholders")
        started = app.journal().streams(STREAM_PREFIX)
        assert len(started) == 1 and started[0].first.data["params"] == {"version": "2.5.0"}
        assert started[0].first.operator == "alice"


async def test_confirm_with_notes_then_a_dangerous_command_asked_first(
    tmp_path: Path, gate: Path
) -> None:
    marker = tmp_path / "ran"
    app = console(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_upgrade(pilot, app)
        await confirm(pilot, screen, "notify-stakeholders", "#status")  # typed
        assert row(screen, "notify-stakeholders").startswith("✓ Notify stakeholders")
        done = journaled(screen, "step.completed", "notify-stakeholders")
        assert done[0].data["note"] == "#status" and done[0].operator == "alice"
        await run(pilot, screen, "create-backup-snapshot")
        assert row(screen, "create-backup-snapshot").startswith("✓ Create database backup")
        assert "exit 0: snapshot taken" in row(screen, "create-backup-snapshot")
        assert text_of(screen, "#heading").startswith("Version Upgrade version=2.5.0 · 2/10 steps")

        # "Document rollback procedure" needs a note: an empty one is refused, and said so
        assert screen.engine.current.id == "document-rollback"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NoteInput))
        await pilot.press("enter")
        await until(pilot, lambda: any("needs a note" in m for m in notes(app)))
        assert status(screen, "document-rollback") is StepStatus.PENDING
        assert journaled(screen, "step.started", "document-rollback") == []
        assert "a note is required" in text_of(screen, "#detail-text")
        await confirm(pilot, screen, "document-rollback", "redeploy 2.4.1 and restore")
        assert row(screen, "document-rollback").startswith("✓ Document rollback procedure")
        await pilot.press("up")  # back to it: the detail shows its note
        detail = text_of(screen, "#detail-text")
        assert detail.startswith("Document rollback procedure  (manual, done, alice)")
        assert re.search(r"^Note +redeploy 2.4.1 and restore$", detail, re.MULTILINE), detail
        await pilot.press("down")

        await run(pilot, screen, "drain-old-version")
        await run(pilot, screen, "deploy-canary")
        assert row(screen, "deploy-canary").startswith("✓ Deploy new version to 10% of nodes")

        # the migrations are dangerous: asked first, and "n" runs nothing
        assert screen.engine.current.id == "run-migrations"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmCommand))
        asked = screen_text(app)
        assert "Run this DANGEROUS command?" in asked and "Run migration scripts" in asked
        assert "migrated to 2.5.0" in asked  # the command as it will run, version filled in
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert not marker.exists()
        assert journaled(screen, "step.started", "run-migrations") == []
        assert status(screen, "run-migrations") is StepStatus.PENDING
        # "y" runs it
        await run(pilot, screen, "run-migrations", "y")
        assert marker.exists()
        assert status(screen, "run-migrations") is StepStatus.DONE
        assert row(screen, "run-migrations").startswith("✓ Run migration scripts")
        assert list(screen.query_one("#output", Log).lines) == ["migrated to 2.5.0"]


async def prepared(app: LessayConsole, before: str) -> str:
    """A run of Version Upgrade walked through the engine up to the step `before`, released:
    the screen opens it as a console coming back to it would."""
    deps = app._run_deps()
    assert deps is not None
    runbooks, _ = load_runbooks(deps.config, directories=[])
    upgrade = next(r for r in runbooks if r.id == "version-upgrade")
    engine = await RunEngine.start(upgrade, {"version": "2.5.0"}, deps)
    for step in upgrade.steps:
        if step.id == before:
            break
        if step.kind == "manual":
            await engine.confirm(step, "done")
        else:
            while not engine.state.steps[step.id].status.settled:
                await engine.run(step)
    await engine.release()
    return engine.state.id


async def opened(pilot: Pilot, app: LessayConsole, run_id: str) -> RunScreen:
    await pilot.pause()
    app.open_run(run_id)
    await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run screen")
    assert isinstance(app.screen, RunScreen)
    return app.screen


async def test_command_output_streams_while_it_runs(tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # closed: drain prints its first line, then waits
    app = console(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, await prepared(app, "drain-old-version"))
        output = screen.query_one("#output", Log)
        assert not output.display  # no output pane until a command runs
        await pilot.press("enter")
        await until(pilot, lambda: list(output.lines) == ["draining"], what="the first line")
        assert output.display
        assert status(screen, "drain-old-version") is StepStatus.RUNNING
        # the list shows it running while it runs (redrawn each second)
        await until(pilot, lambda: row(screen, "drain-old-version").startswith("▶ Drain"), 3)
        assert "(command, running, alice)" in text_of(screen, "#detail-text")
        # journaled while it still runs (at most a second behind)
        await until(pilot, lambda: journaled(screen, "step.output", "drain-old-version"), 3)
        assert journaled(screen, "step.output", "drain-old-version")[0].data["text"] == "draining"
        assert status(screen, "drain-old-version") is StepStatus.RUNNING
        gate.touch()
        await settled(pilot, screen, lambda: status(screen, "drain-old-version").settled)
        assert list(output.lines) == ["draining", "drained"]
        state = screen.engine.state.steps["drain-old-version"]
        assert "\n".join(state.output) == "draining\ndrained"
        assert row(screen, "drain-old-version").startswith("✓ Drain traffic")


async def test_skip_a_watch_override_a_failure_then_export(tmp_path: Path, gate: Path) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, await prepared(app, "monitor-metrics-1-hour"))
        assert screen.engine.current.id == "monitor-metrics-1-hour"

        # the one-hour watch: skipped with a reason (k)
        await reason(pilot, screen, "k", "watched on the dashboards instead")
        assert status(screen, "monitor-metrics-1-hour") is StepStatus.SKIPPED
        assert row(screen, "monitor-metrics-1-hour").startswith("- Monitor metrics for 1 hour")
        skipped = journaled(screen, "step.skipped", "monitor-metrics-1-hour")
        assert skipped[0].data["reason"] == "watched on the dashboards instead"

        # the smoke test fails: shown, and the run is blocked there
        await run(pilot, screen, "run-smoke-tests")
        assert status(screen, "run-smoke-tests") is StepStatus.FAILED
        assert row(screen, "run-smoke-tests").startswith("✗ Run smoke tests")
        assert "exit 1" in row(screen, "run-smoke-tests")
        detail = text_of(screen, "#detail-text")
        assert "Failed: Enter re-runs, o overrides with a reason" in detail
        assert list(screen.query_one("#output", Log).lines) == ["FAIL login: 503"]
        assert screen.engine.current.id == "run-smoke-tests"

        # an override needs a reason: an empty one changes nothing
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, NoteInput))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        assert status(screen, "run-smoke-tests") is StepStatus.FAILED
        await reason(pilot, screen, "o", "login 503 is the known IdP maintenance")
        assert status(screen, "run-smoke-tests") is StepStatus.OVERRIDDEN
        assert row(screen, "run-smoke-tests").startswith("! Run smoke tests")
        overridden = journaled(screen, "step.overridden", "run-smoke-tests")
        assert overridden[0].data["reason"] == "login 503 is the known IdP maintenance"
        assert overridden[0].operator == "alice"
        assert screen.engine.current.id == "roll-out-to-100"

        # e: the change record, Markdown and JSON, in the state dir
        await pilot.press("e")
        await pilot.pause()
        number = screen.engine.state.id.removeprefix(STREAM_PREFIX)
        markdown = tmp_path / "state" / "runs" / f"{number}.md"
        assert any(str(markdown) in m for m in notes(app))
        text = markdown.read_text()
        assert text.startswith("# Change record: Version Upgrade")
        assert "### Run smoke tests: OVERRIDDEN" in text
        assert "- Result: login 503 is the known IdP maintenance" in text
        assert "### Monitor metrics for 1 hour: SKIPPED" in text
        assert "- By alice at " in text and "FAIL login: 503" in text
        record = json.loads(markdown.with_suffix(".json").read_text())
        assert record["run"] == screen.engine.state.id
        statuses = {s["id"]: (s["status"], s["by"]) for s in record["steps"]}
        assert statuses["run-smoke-tests"] == ("overridden", "alice")
        assert statuses["roll-out-to-100"] == ("pending", None)
        assert oct(markdown.parent.stat().st_mode & 0o777) == "0o700"


async def test_read_only_runs_no_command_and_says_so(tmp_path: Path, gate: Path) -> None:
    marker = tmp_path / "backed-up"
    config = site_config(tmp_path, backup_snapshot=("touch", str(marker)))
    app = console(tmp_path, read_only=True, config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_upgrade(pilot, app)
        assert "read-only: nothing is executed" in text_of(screen, "#heading")
        await confirm(pilot, screen, "notify-stakeholders", "followed")
        assert screen.engine.current.id == "create-backup-snapshot"
        assert "Read-only: nothing runs here" in text_of(screen, "#detail-text")
        await pilot.press("enter")
        await until(pilot, lambda: any("read-only" in m for m in notes(app)))
        assert not marker.exists()
        # refused before anything is recorded: the step did not start, nor fail
        assert status(screen, "create-backup-snapshot") is StepStatus.PENDING
        assert journaled(screen, "step.started", "create-backup-snapshot") == []
        assert screen.engine.current.id == "create-backup-snapshot"
        assert screen.engine.state.read_only  # recorded with the run
        await reason(pilot, screen, "k", "read-only walk-through")
        assert status(screen, "create-backup-snapshot") is StepStatus.SKIPPED
        assert not marker.exists()


# -- snapshots -------------------------------------------------------------------------
RUN_ID = "run/20270115-080000-0001"


def snapshot_config() -> Config:
    """Commands without paths, so that the screen shows nothing of this machine."""
    commands = {
        "backup_snapshot": ("sh", "-c", "echo snapshot lessay-db-hourly-20270115T0800Z.dump"),
        "drain": ("sh", "-c", "echo 10/10 nodes in rotation"),
        "deploy": ("sh", "-c", "echo deployed {version} to {percent}%"),
        "migrate": ("migratectl", "up", "--to", "{version}"),
    }
    return Config(
        environment="staging", thresholds={**THRESHOLDS, **DEMO_THRESHOLDS}, commands=commands
    )


async def resumed_at_migrations(pilot: Pilot) -> None:
    """A run made through the engine (a fixed clock and run id), stopped before the
    migrations, on screen."""
    app = pilot.app
    assert isinstance(app, LessayConsole)
    journal = app.journal()
    assert isinstance(journal, Journal)
    journal.new_stream_id = lambda prefix, at=None: RUN_ID  # type: ignore[method-assign]
    config = app.context.config
    runbooks, _ = load_runbooks(config, directories=[])
    upgrade = next(r for r in runbooks if r.id == "version-upgrade")
    deps = RunDeps(config, journal, OPERATOR, app._current_metrics, clock=lambda: T0)
    engine = await RunEngine.start(upgrade, {"version": "2.5.0"}, deps)
    steps = upgrade.step
    await engine.confirm(steps("notify-stakeholders"), "announced on #status for 08:00-09:00")
    await engine.run(steps("create-backup-snapshot"))
    await engine.confirm(steps("document-rollback"), "redeploy 2.4.1; restore the 08:00 snapshot")
    await engine.run(steps("drain-old-version"))
    await engine.run(steps("deploy-canary"))
    app.runs.append(engine)
    await app.push_screen(RunScreen(app.context, engine))
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    config = snapshot_config()
    context = ConsoleContext(config, OPERATOR, tmp_path / "state")
    app = LessayConsole(context, monitor=scripted_monitor(config=config), clock=lambda: T0)
    assert snap_compare(app, terminal_size=size, run_before=resumed_at_migrations)


async def test_abandon_ends_the_run_with_its_reason(tmp_path: Path) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_upgrade(pilot, app)
        await reason(pilot, screen, "A", "superseded by 2.5.1")
        assert screen.engine.state.finished == "aborted"
        [finished] = journaled(screen, "run.finished")
        assert finished.data["reason"] == "superseded by 2.5.1"
        await until(pilot, lambda: "finished: aborted" in text_of(screen, "#heading"))
