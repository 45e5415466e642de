"""The Textual application: the screens render the engine's snapshots and send intents.

The app owns the metrics engine (`Monitor`, plain async Python): its pollers
run as a worker on the app's loop, and a timer takes a snapshot every
refresh interval and hands it to the screen on top. Nothing on a screen
waits on a source.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from lessay_console.config import Config
from lessay_console.context import ConsoleContext
from lessay_console.demo.launcher import DemoLauncher
from lessay_console.monitor import Monitor, Snapshot
from lessay_console.screens.dashboard import DashboardScreen
from lessay_console.widgets.alert_bar import new_criticals

if TYPE_CHECKING:
    from lessay_console.config.reader import Problem
    from lessay_console.journal.store import Journal
    from lessay_console.runbooks.engine import RunDeps, RunEngine
    from lessay_console.runbooks.model import Runbook
    from lessay_console.runbooks.state import RunState
    from lessay_console.troubleshooting.symptoms import Symptom

log = logging.getLogger(__name__)

# Signals that end the console as cleanly as `q` does. Textual installs no
# handler for them: without these a dropped SSH connection (SIGHUP) or a
# `kill` would end the process without its shutdown hooks.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
LOW_BANDWIDTH_REFRESH = 5.0


class LessayConsole(App[None]):
    """The operations console."""

    TITLE = "lessay-console"
    CSS = """
    LessayConsole.-low-bandwidth .trend { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console."),
        Binding("ctrl+c", "quit", "Quit", id="quit-ctrl-c", show=False, priority=True),
        # Help early: at 80 columns the footer is cut at its end, and help must show
        Binding("question_mark,f1", "help", "Help", id="help", tooltip="Every key."),
        Binding(
            "w",
            "war_room",
            "War room",
            id="war-room",
            tooltip="Big numbers, the alert timeline and the incident clock.",
        ),
        Binding(
            "t",
            "troubleshoot",
            "Troubleshoot",
            id="troubleshoot",
            tooltip="From a symptom to diagnostics, resolution and escalation.",
        ),
        Binding(
            "b",
            "runbooks",
            "Runbooks",
            id="runbooks",
            tooltip="Patching, upgrades and recovery, step by step, recorded.",
        ),
        Binding("i", "sources", "Sources", id="sources", tooltip="What the console is pointed at."),
        Binding(
            "s",
            "scenario",
            "Scenario",
            id="scenario",
            tooltip="Demo only: switch the demo backend's scenario.",
        ),
    ]

    def __init__(
        self,
        context: ConsoleContext,
        demo: DemoLauncher | None = None,
        *,
        war_room: bool = False,
        low_bandwidth: bool = False,
        monitor: Monitor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.clock = clock  # wall clock for what the screens show (a test can stop it)
        self.context = context
        self.demo = demo
        self.start_in_war_room = war_room
        self.low_bandwidth = low_bandwidth
        self.stop_signal: signal.Signals | None = None
        self.monitor: Monitor | None = monitor  # given: tests drive it without pollers
        self.snapshot: Snapshot | None = None
        self._journal: Journal | None = None
        self.runs: list[RunEngine] = []  # runs this console holds or watches
        self._ticking = False
        self._journal_error: str | None = None

    # -- lifecycle ----------------------------------------------------------
    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop_on_signal, signum)
        self.set_class(self.low_bandwidth, "-low-bandwidth")
        self.push_screen(DashboardScreen(self.context))
        if self.start_in_war_room:
            self.action_war_room()
        if self.monitor is not None:
            self._attach(self.monitor)
        elif self.demo is not None:
            # after the first frame: the operator sees the console at once
            self.call_after_refresh(self._start_demo)
        else:
            self._start_monitor(self.context.config)
            self.call_after_refresh(self._offer_resume_later)
        refresh = self.context.config.console.refresh
        if self.low_bandwidth:
            refresh = max(refresh, LOW_BANDWIDTH_REFRESH)
        self.set_interval(refresh, self.refresh_snapshot)

    async def on_unmount(self) -> None:
        for engine in self.runs:
            try:
                await engine.release()  # another console may resume at once
            except Exception:  # the journal may be gone; the next console finds the pid dead
                log.exception("releasing %s", engine.state.id)
        if self._journal is not None:
            self._journal.close()

    def _start_demo(self) -> None:
        if self.demo is not None:
            self.run_worker(self.demo.start, name="demo-start", thread=True, exit_on_error=False)

    def _start_monitor(self, config: Config) -> None:
        monitor = Monitor(config)
        self._attach(monitor)
        self.run_worker(self._run_monitor(monitor), name="monitor", exit_on_error=False)

    def _attach(self, monitor: Monitor) -> None:
        self.monitor = monitor
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.set_metrics(monitor.metric_names)
        self.call_after_refresh(self.refresh_snapshot)

    async def _run_monitor(self, monitor: Monitor) -> None:
        try:
            await monitor.start()
            self.refresh_snapshot()
            await monitor.run()
        finally:
            await monitor.aclose()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Errors surface once, here: a failed worker becomes a message, never a crash."""
        name = event.worker.name
        if name == "demo-start" and event.state is WorkerState.SUCCESS:
            from lessay_console.demo.settings import demo_config

            backend = event.worker.result
            log.info("demo backend at %s, data in %s", backend.url, backend.data_dir)
            self.context = replace(self.context, config=demo_config(backend), demo_url=backend.url)
            self._start_monitor(self.context.config)
            self._offer_resume_later()  # runs resolve their commands against this config
        elif event.state is WorkerState.ERROR:
            log.error("%s failed: %s", name, event.worker.error)
            if name == "demo-start":
                self.exit(
                    return_code=2, message=f"lessay-console: demo backend: {event.worker.error}"
                )
            else:
                self.notify(f"{name}: {event.worker.error}", severity="error", timeout=30)

    def refresh_snapshot(self) -> None:
        """Evaluate the engine (cheap, no I/O) and show the result on the screen on top."""
        if self.monitor is None:
            return
        snapshot = self.monitor.evaluate(self.clock())
        if self.context.config.console.bell and new_criticals(self.snapshot, snapshot):
            self.bell()
        self.snapshot = snapshot
        if any(engine.holding for engine in self.runs) and not self._ticking:
            self.run_worker(self._watch_ticks(snapshot), group="watch-ticks", exit_on_error=False)
        show = getattr(self.screen, "show_snapshot", None)
        if show is not None:
            show(snapshot, self.monitor)

    def _stop_on_signal(self, signum: signal.Signals) -> None:
        log.info("received %s; stopping", signum.name)
        self.stop_signal = signum
        self.exit(return_code=128 + signum)

    # -- intents ------------------------------------------------------------
    def open_metric(self, metric: str) -> None:
        if self.monitor is None:
            return
        from lessay_console.screens.metric import MetricScreen

        self.push_screen(MetricScreen(self.context, metric))
        self.call_after_refresh(self.refresh_snapshot)

    def action_war_room(self) -> None:
        from lessay_console.screens.war_room import WarRoomScreen

        if isinstance(self.screen, WarRoomScreen):
            self.pop_screen()
            return
        self.push_screen(WarRoomScreen(self.context))
        self.call_after_refresh(self.refresh_snapshot)

    def action_troubleshoot(self) -> None:
        from lessay_console.screens.troubleshoot import SymptomScreen
        from lessay_console.troubleshooting.session import suggest
        from lessay_console.troubleshooting.symptoms import load_catalog

        if isinstance(self.screen, SymptomScreen):
            return
        catalog, problems = load_catalog(self.context.config)
        for problem in problems:
            log.warning("symptom file: %s", problem)

        def chosen(symptom_id: str | None) -> None:
            symptom = catalog.find(symptom_id) if symptom_id else None
            if symptom is not None:
                self.run_worker(self._diagnose(symptom), name="diagnose", exit_on_error=False)

        screen = SymptomScreen(self.context, suggest(catalog, self.snapshot), problems)
        self.push_screen(screen, chosen)

    async def _diagnose(self, symptom: Symptom) -> None:
        from lessay_console.checks.model import CheckContext
        from lessay_console.screens.diagnosis import DiagnosisScreen
        from lessay_console.troubleshooting.session import Diagnosis

        ctx = CheckContext(
            config=self.context.config,
            metrics=self._current_metrics,
            read_only=self.context.read_only,
            clock=self.clock,
        )
        journal = self.journal()
        diagnosis = await Diagnosis.open(
            symptom, ctx, journal, self.context.operator, self.snapshot
        )
        await self.push_screen(DiagnosisScreen(self.context, diagnosis))

    async def _current_metrics(self) -> Snapshot:
        if self.monitor is None:
            raise RuntimeError("no metrics yet: the sources are still starting")
        return self.monitor.evaluate(self.clock())

    def journal(self) -> Journal | None:
        """The journal, opened on first use; None (said once, loudly) when it cannot be."""
        if self._journal is None and self._journal_error is None:
            from lessay_console.journal import Journal, JournalError, journal_path

            try:
                self._journal = Journal.open(
                    journal_path(self.context.state_dir), self.context.operator
                )
            except JournalError as error:
                self._journal_error = str(error)
                log.error("journal: %s", error)
                self.notify(f"Not recorded: {error}", severity="error", timeout=30)
        return self._journal

    async def _watch_ticks(self, snapshot: Snapshot) -> None:
        """Watch steps keep watching whatever screen is on top."""
        self._ticking = True
        try:
            for engine in self.runs:
                if engine.holding:
                    await engine.watch_tick(snapshot)
        finally:
            self._ticking = False

    def action_runbooks(self) -> None:
        self.run_worker(self._show_runbooks(), name="runbooks", exit_on_error=False)

    async def _show_runbooks(self) -> None:
        from lessay_console.runbooks.loader import load_runbooks
        from lessay_console.screens.runbooks import RunbooksScreen, recorded_runs

        journal = self.journal()

        def read() -> tuple[list[Runbook], list[Problem], list[tuple[Runbook, RunState]]]:
            # files and every recorded run's events: off the UI loop
            runbooks, problems = load_runbooks(self.context.config)
            runs = recorded_runs(journal, runbooks) if journal is not None else []
            return runbooks, problems, runs

        runbooks, problems, runs = await asyncio.to_thread(read)

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            kind, _, ident = choice.partition(":")
            if kind == "book":
                self._ask_params(next(r for r in runbooks if r.id == ident))
            else:
                self.open_run(ident)

        screen = RunbooksScreen(self.context, runbooks, runs, [str(p) for p in problems])
        await self.push_screen(screen, chosen)

    def _ask_params(self, runbook: Runbook) -> None:
        from lessay_console.screens.runbooks import ParamsScreen

        def start(values: dict[str, str] | None) -> None:
            if values is not None:
                self.run_worker(self._start_run(runbook, values), name="run", exit_on_error=False)

        self.push_screen(ParamsScreen(runbook), start)

    def _run_deps(self) -> RunDeps | None:
        from lessay_console.runbooks.engine import RunDeps

        journal = self.journal()
        if journal is None:
            self.notify("Runbooks need the journal: see the error above.", severity="error")
            return None
        return RunDeps(
            self.context.config, journal, self.context.operator, self._current_metrics, self.clock
        )

    async def _start_run(self, runbook: Runbook, values: dict[str, str]) -> None:
        from lessay_console.runbooks.engine import RunEngine
        from lessay_console.screens.run import RunScreen

        deps = self._run_deps()
        if deps is None:
            return
        engine = await RunEngine.start(runbook, values, deps, read_only=self.context.read_only)
        self.runs.append(engine)
        await self.push_screen(RunScreen(self.context, engine))

    def open_run(self, run_id: str) -> None:
        self.run_worker(self._open_run(run_id), name="run", exit_on_error=False)

    async def _open_run(self, run_id: str) -> None:
        from lessay_console.runbooks.engine import RunEngine, RunHeld
        from lessay_console.runbooks.loader import load_runbooks
        from lessay_console.runbooks.records import definition_for
        from lessay_console.screens.run import RunScreen
        from lessay_console.screens.runbooks import HeldScreen

        deps = self._run_deps()
        if deps is None:
            return
        engine = next((e for e in self.runs if e.state.id == run_id), None)
        if engine is None:

            def read() -> RunEngine:  # files and the run's events, off the UI loop
                runbooks, _ = load_runbooks(self.context.config)
                runbook = definition_for(deps.journal.events(run_id), runbooks)
                return RunEngine.load(runbook, run_id, deps)

            engine = await asyncio.to_thread(read)
            engine.read_only = engine.read_only or self.context.read_only
            self.runs.append(engine)
        if not engine.holding and not engine.state.finished:
            try:
                await engine.attach()
            except RunHeld as held:
                choice = await self.push_screen_wait(HeldScreen(str(held)))
                if choice is None:
                    return
                if choice == "take":
                    await engine.attach(take_over=True)
        await self.push_screen(RunScreen(self.context, engine))

    def _offer_resume_later(self) -> None:
        if not self.start_in_war_room:  # a shared screen is not asked questions
            self.run_worker(self.offer_resume(), name="resume-offer", exit_on_error=False)

    async def offer_resume(self) -> None:
        """At start: unfinished runs that no live console holds."""
        from lessay_console.locations import journal_file
        from lessay_console.runbooks.engine import holder_alive
        from lessay_console.runbooks.loader import load_runbooks
        from lessay_console.screens.runbooks import ResumeOffer, recorded_runs

        # cheap first: no journal yet, or no unfinished run, and nothing more is loaded
        # (the runbooks and checks cost about 2 MB of memory that the dashboard needs not)
        if not journal_file(self.context.state_dir).exists():
            return
        journal = self.journal()
        if journal is None:
            return
        host = self.context.operator.host

        def read() -> list[tuple[Runbook, RunState]]:
            # the journal and the runbook files are read off the UI loop
            unfinished = [
                s
                for s in journal.streams("run/")
                if not journal.events(s.stream, kinds=("run.finished",))
            ]
            if not unfinished:
                return []
            runbooks, _ = load_runbooks(self.context.config)
            return [
                (book, state)
                for book, state in recorded_runs(journal, runbooks)
                if state.unfinished
                and (state.holder is None or state.released or not holder_alive(state.holder, host))
            ]

        waiting = await asyncio.to_thread(read)
        if waiting:
            choice = await self.push_screen_wait(ResumeOffer(waiting))
            if choice:
                await self._open_run(choice)

    def action_sources(self) -> None:
        from lessay_console.screens.overview import OverviewScreen

        if isinstance(self.screen, OverviewScreen):
            self.pop_screen()
        else:
            self.push_screen(OverviewScreen(self.context))

    def action_scenario(self) -> None:
        backend = self.demo.backend if self.demo is not None else None
        if backend is None:
            self.notify("Scenarios exist only on the demo backend (--demo).", timeout=4)
            return
        from lessay_console.screens.scenario import ScenarioScreen

        def switch(name: str | None) -> None:
            if name and name != backend.scenario:
                backend.set_scenario(name)
                self.notify(f"Demo scenario: {name}", timeout=4)

        self.push_screen(ScenarioScreen(backend.scenario), switch)

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists every action of the console, beside Textual's own."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "War room", "Big numbers, alert timeline, incident clock", self.action_war_room
        )
        yield SystemCommand(
            "Troubleshoot",
            "From a symptom to checks, resolution, escalation",
            self.action_troubleshoot,
        )
        yield SystemCommand(
            "Runbooks", "Patching, upgrades, recovery: start or resume", self.action_runbooks
        )
        yield SystemCommand("Sources", "What the console is pointed at", self.action_sources)
        if self.demo is not None:
            yield SystemCommand(
                "Demo scenario", "Switch the demo backend's scenario", self.action_scenario
            )
        yield SystemCommand("Help", "Every key", self.action_help)
