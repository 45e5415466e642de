"""One run: the step list and progress, the current step, checks and output live, notes.

The screen shows the engine's state (derived from the journal) and sends
intents; each intent's events are in the journal before the screen redraws.
A console that does not hold the run watches it: it re-reads the journal
every second and offers to take over (recorded).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Log, OptionList, Static
from textual.widgets.option_list import Option

from lessay_console.context import ConsoleContext
from lessay_console.monitor import Monitor, Snapshot
from lessay_console.runbooks.engine import RunEngine, RunError
from lessay_console.runbooks.model import Step
from lessay_console.runbooks.resolve import resolve_command
from lessay_console.runbooks.state import STREAM_PREFIX, StepStatus
from lessay_console.runbooks.watching import account_gap, pending_gap
from lessay_console.sanitize import printable_line
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.prompts import ChooseOne, ConfirmCommand, NoteInput
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands
from lessay_console.widgets.step_detail import step_detail

MARKS = {
    StepStatus.PENDING: ("  ", ""),
    StepStatus.RUNNING: ("▶ ", "bold yellow"),
    StepStatus.INTERRUPTED: ("? ", "bold magenta"),
    StepStatus.FAILED: ("✗ ", "bold red"),
    StepStatus.DONE: ("✓ ", "green"),
    StepStatus.OVERRIDDEN: ("! ", "yellow"),
    StepStatus.SKIPPED: ("- ", "dim"),
}


class RunScreen(OpaqueScreen[None]):
    COMMANDS: ClassVar = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: the step list's own Enter (select) would hide it from the footer
        Binding("enter", "do", "Do step", id="run.do", priority=True),
        Binding("n", "note", "Note", id="run.note"),
        Binding("o", "override", "Override", id="run.override"),
        Binding("k", "skip", "Skip", id="run.skip"),
        Binding("x", "abort_rollout", "Abort rollout", id="run.abort-rollout"),
        Binding("t", "take_over", "Take over", id="run.take-over"),
        Binding("e", "export", "Export", id="run.export"),
        Binding("A", "abandon", "Abandon run", id="run.abandon", show=False),
        Binding("escape", "back", "Back", id="run.back"),
    ]
    DEFAULT_CSS = """
    RunScreen #heading {
        padding: 0 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis;
    }
    RunScreen #heading.-watching { color: $warning; }
    RunScreen #steps, RunScreen #steps:focus {
        height: auto; max-height: 50%; border: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    RunScreen #detail { height: 1fr; padding: 0 1; border-top: solid $primary; }
    RunScreen #output { height: 7; display: none; border-top: solid $primary; }
    RunScreen #output.-shown { display: block; }
    """

    def __init__(self, context: ConsoleContext, engine: RunEngine) -> None:
        super().__init__()
        self.context = context
        self.engine = engine
        self.busy = False
        self._selected: str | None = None

    # -- layout -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        yield Static("", id="heading")
        yield OptionList(id="steps")
        with VerticalScroll(id="detail"):
            yield Static("", id="detail-text")
        yield Log(id="output", max_lines=2000)
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.query_one("#steps", OptionList).focus()
        self.highlight_current()
        self.set_interval(1.0, self._follow)

    def highlight_current(self) -> None:
        """The cursor follows the run: after each step, on the next one to do."""
        current = self.engine.current
        if current is not None:
            steps = self.query_one("#steps", OptionList)
            steps.highlighted = steps.get_option_index(current.id)

    def _follow(self) -> None:
        """A watching console re-reads the journal; the holder's own state is current, and
        shown as it changes while an intent runs (a step running, each check's result)."""
        if self.busy or (not self.engine.holding and self.engine.refresh()):
            self.redraw()

    def show_snapshot(self, snapshot: Snapshot, monitor: Monitor) -> None:
        # the app feeds watch steps of held runs; here only the countdown changes
        if self._selected and self.engine.runbook.step(self._selected).kind == "watch":
            self._show_detail(self._selected)

    def redraw(self) -> None:
        engine, state = self.engine, self.engine.state
        done, total = state.progress()
        params = " ".join(f"{k}={v}" for k, v in state.params.items())
        number = state.id.removeprefix(STREAM_PREFIX)
        where = "finished: " + state.finished if state.finished else f"{done}/{total} steps"
        if engine.holding:
            who = "read-only: nothing is executed" if engine.read_only else "held by you"
        else:
            holder = state.holder
            who = f"WATCHING: held by {holder.describe()} (t takes over)" if holder else "WATCHING"
        heading = self.query_one("#heading", Static)
        line = f"{state.title} {params} · {where} · {who} · run {number}"
        heading.update(Text(printable_line(line)))
        heading.set_class(not engine.holding, "-watching")
        steps = self.query_one("#steps", OptionList)
        highlighted = steps.highlighted
        steps.clear_options()
        for phase in engine.runbook.phases:
            steps.add_option(
                Option(Text(printable_line(phase.title), style="bold underline"), disabled=True)
            )
            for step in phase.steps:
                steps.add_option(Option(self._step_prompt(step), id=step.id))
        if highlighted is not None:
            steps.highlighted = min(highlighted, steps.option_count - 1)
        if self._selected:
            self._show_detail(self._selected)
        self.refresh_bindings()

    def _step_prompt(self, step: Step) -> Text:
        state = self.engine.state.steps[step.id]
        mark, style = MARKS[state.status]
        current = self.engine.current
        if current is not None and current.id == step.id and state.status is StepStatus.PENDING:
            mark, style = "→ ", "bold"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(mark, style=style)
        text.append(printable_line(step.title))
        if step.kind == "rollout" and state.stages_done and not state.outcome:
            text.append(f"  at {state.stages_done[-1]:g}%", style="dim")
        if state.outcome:
            text.append(f"  {printable_line(state.outcome)}", style="dim")
        return text

    # -- the detail pane -----------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._selected = event.option.id
            self._show_detail(event.option.id)
            self.refresh_bindings()

    def _show_detail(self, step_id: str) -> None:
        step = self.engine.runbook.step(step_id)
        shown = self.query_one("#output", Log).has_class("-shown")
        detail = step_detail(self.engine, step, self.app_clock(), with_output=not shown)
        self.query_one("#detail-text", Static).update(detail)

    def app_clock(self) -> float:
        return getattr(self.app, "clock", self.engine.deps.clock)()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys shown only where they apply: the footer stays short at 80 columns."""
        step = self.engine.runbook.step(self._selected) if self._selected else None
        if action == "abort_rollout":
            return step is not None and step.kind == "rollout"
        if action == "take_over":
            return not self.engine.holding
        if action == "override":
            return step is not None and (
                self.engine.state.steps[step.id].status is StepStatus.FAILED
            )
        return True

    # -- intents -------------------------------------------------------------
    def _step(self) -> Step | None:
        option = self.query_one("#steps", OptionList).highlighted_option
        return self.engine.runbook.step(option.id) if option and option.id else None

    def _ask(self, prompt: str, then: Callable[[str], None]) -> None:
        self.app.push_screen(NoteInput(prompt), lambda text: then(text) if text else None)

    def _watching(self) -> bool:
        """A console that does not hold the run asks nothing: it says how to take it over."""
        if self.engine.holding:
            return False
        self.notify("Watching only: t takes this run over (recorded).", timeout=6)
        return True

    def action_do(self) -> None:
        step = self._step()
        if step is None or self.busy or self._watching():
            return
        engine = self.engine
        status = engine.state.steps[step.id].status
        if status is StepStatus.INTERRUPTED:
            self._resolve_interrupted(step)
        elif step.kind == "watch" and pending_gap(engine, step) is not None:
            self._account_gap(step)
        elif step.kind == "manual" and step.choose == "backup":
            self.choose_backup(step)
        elif step.kind == "manual" or (
            step.kind not in ("watch", "check") and engine.by_hand(step)
        ):
            prompt = "Note for the record" + (" (required)" if step.note == "required" else "")
            self.app.push_screen(
                NoteInput(prompt), lambda text: self._intent(engine.confirm(step, text or ""))
            )
        else:
            spec = step.command or (step.rollout.command if step.rollout else None)
            if spec is not None and spec.dangerous:
                percent = self._next_stage(step)
                resolved = resolve_command(spec, engine.deps.config, engine.values(percent=percent))
                argv = resolved.argv or (resolved.display,)
                self.app.push_screen(
                    ConfirmCommand(step.title, argv, dangerous=True),
                    lambda yes: self._run(step) if yes else None,
                )
            else:
                self._run(step)

    @work(group="choose")
    async def choose_backup(self, step: Step) -> None:
        """Candidates from the backup catalog, newest first; the choice and a note recorded."""
        from lessay_console.backups.candidates import CatalogUnavailable, last_good_candidates

        try:
            candidates = await last_good_candidates(self.engine.deps.config)
        except CatalogUnavailable as error:
            self.notify(f"No catalog to choose from: {error}", severity="warning", timeout=8)
            candidates = []
        usable = [c for c in candidates if c.usable][:12]
        choices = [(c.name, f"{c.name} · {c.reason}") for c in usable]
        choices.append(("", "Another backup: type its name"))
        picked = await self.app.push_screen_wait(
            ChooseOne("Which backup is the last known good one?", choices)
        )
        if picked is None:
            return
        if not picked:
            picked = await self.app.push_screen_wait(NoteInput("The backup's name"))
            if not picked:
                return
        required = " (required)" if step.note == "required" else ""
        note = await self.app.push_screen_wait(
            NoteInput(f"Why is {printable_line(picked)} known good?{required}")
        )
        if note is not None:
            self._intent(self.engine.confirm(step, note, choice=picked))

    def _next_stage(self, step: Step) -> str:
        if step.rollout is None:
            return "0"
        done = self.engine.state.steps[step.id].stages_done
        remaining = [p for p in step.rollout.stages if p not in done]
        return f"{remaining[0]:g}" if remaining else "100"

    def _resolve_interrupted(self, step: Step) -> None:
        def decided(choice: str | None) -> None:
            if choice:
                self._ask(
                    "How did you check? (recorded with the decision)",
                    lambda note: self._intent(
                        self.engine.resolve_interrupted(step, choice == "done", note)
                    ),
                )

        self.app.push_screen(
            ChooseOne(
                "Interrupted: was it done? Check first (its verification, the fleet, the logs).",
                [
                    ("done", "It was done (record it as done)"),
                    ("not", "It was not done (do it again)"),
                ],
            ),
            decided,
        )

    def _account_gap(self, step: Step) -> None:
        def decided(choice: str | None) -> None:
            if choice:
                self._ask(
                    "How do you know? (dashboards, pager history; recorded)",
                    lambda note: self._intent(
                        account_gap(self.engine, step, choice == "quiet", note)
                    ),
                )

        self.app.push_screen(
            ChooseOne(
                "While no console watched: did anything alert?",
                [("quiet", "Nothing alerted"), ("alerts", "Something alerted (the watch fails)")],
            ),
            decided,
        )

    def _run(self, step: Step) -> None:
        output = self.query_one("#output", Log)
        output.clear()
        output.add_class("-shown")
        self._intent(self.engine.run(step, emit=output.write_line))

    def action_note(self) -> None:
        step = self._step()
        if self._watching():
            return
        self._ask("Note for the record", lambda text: self._intent(self.engine.note(text, step)))

    def action_override(self) -> None:
        step = self._step()
        if step is not None and not self._watching():
            self._ask(
                "Why go on past this failure? (recorded)",
                lambda reason: self._intent(self.engine.override(step, reason)),
            )

    def action_skip(self) -> None:
        step = self._step()
        if step is not None and not self._watching():
            self._ask(
                "Why skip this step? (recorded)",
                lambda reason: self._intent(self.engine.skip(step, reason)),
            )

    def action_abort_rollout(self) -> None:
        from lessay_console.runbooks.steps import abort_rollout

        step = self._step()
        if self._watching():
            return
        if step is None or step.rollout is None:
            self.notify("Select a rollout step to abort it.", timeout=4)
            return
        output = self.query_one("#output", Log)

        def abort(reason: str) -> None:
            output.add_class("-shown")
            self._intent(abort_rollout(self.engine, step, reason, output.write_line))

        self._ask("Why abort the rollout? Its rollback command runs next.", abort)

    def action_abandon(self) -> None:
        """End the run unfinished, with a reason: it is no longer offered for resuming."""
        if self._watching():
            return
        self._ask(
            "Why abandon this run? (recorded; it will not be offered for resuming)",
            lambda reason: self._intent(self.engine.abort(reason)),
        )

    def action_take_over(self) -> None:
        if not self.engine.holding:
            self._intent(self.engine.attach(take_over=True))

    def action_export(self) -> None:
        from lessay_console.runbooks import export

        state = self.engine.state
        directory = self.context.state_dir / "runs"
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = state.id.removeprefix(STREAM_PREFIX)
        markdown, as_json = directory / f"{stem}.md", directory / f"{stem}.json"
        markdown.write_text(export.to_markdown(self.engine.runbook, state), encoding="utf-8")
        as_json.write_text(export.dumps(self.engine.runbook, state) + "\n", encoding="utf-8")
        self.notify(f"Exported: {markdown}, {as_json}", timeout=10)

    def action_back(self) -> None:
        self.dismiss(None)

    @work(group="run-intent")
    async def _intent(self, intent: Awaitable[None]) -> None:
        self.busy = True
        try:
            await intent
        except RunError as error:
            self.notify(printable_line(str(error)), severity="warning", timeout=8)
        finally:
            self.busy = False
            self.redraw()
            self.highlight_current()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Do the step", "Run it, or confirm it when done by hand", self.action_do)
        yield ("Add a note", "To the run's record", self.action_note)
        yield (
            "Override a failure",
            "Go on past a failed step, with a reason",
            self.action_override,
        )
        yield ("Skip the step", "With a reason", self.action_skip)
        yield ("Abort the rollout", "And run its rollback", self.action_abort_rollout)
        yield ("Abandon the run", "End it unfinished, with a reason (A)", self.action_abandon)
        yield ("Take over the run", "From the console holding it (recorded)", self.action_take_over)
        yield ("Export the change record", "Markdown and JSON", self.action_export)
