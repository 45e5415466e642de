"""Runbooks: the definitions, the recorded runs and their state; start or resume one."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from lessay_console.context import ConsoleContext
from lessay_console.runbooks.records import definition_for, run_line
from lessay_console.runbooks.resolve import param_values
from lessay_console.runbooks.state import STREAM_PREFIX, RunState
from lessay_console.sanitize import printable_line
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.prompts import MODAL_CSS
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands

if TYPE_CHECKING:
    from lessay_console.journal.store import Journal
    from lessay_console.runbooks.model import Runbook

RUN_PREFIX = "run:"
BOOK_PREFIX = "book:"


def recorded_runs(journal: Journal, runbooks: list[Runbook]) -> list[tuple[Runbook, RunState]]:
    """Every recorded run with its definition, unfinished ones first, newest first within."""
    runs = []
    for summary in journal.streams(STREAM_PREFIX):
        events = journal.events(summary.stream)
        runbook = definition_for(events, runbooks)
        runs.append((runbook, RunState.from_events(runbook, events)))
    return sorted(runs, key=lambda pair: pair[1].finished is not None)


class RunbooksScreen(OpaqueScreen[str | None]):
    """Dismisses with "book:ID" to start one, "run:ID" to open a run, or None."""

    COMMANDS: ClassVar = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="runbooks.back"),
    ]
    DEFAULT_CSS = """
    RunbooksScreen .title { padding: 0 1; text-style: bold; }
    RunbooksScreen OptionList, RunbooksScreen OptionList:focus {
        border: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    RunbooksScreen #books { height: auto; max-height: 8; }
    RunbooksScreen #runs { height: 1fr; }
    RunbooksScreen #problems { color: $warning; padding: 0 1; height: auto; max-height: 5; }
    """

    def __init__(
        self,
        context: ConsoleContext,
        runbooks: list[Runbook],
        runs: list[tuple[Runbook, RunState]],
        problems: list[str],
    ) -> None:
        super().__init__()
        self.context, self.runbooks, self.runs, self.problems = context, runbooks, runs, problems

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        yield Label("Runbooks: Enter starts one", classes="title")
        yield OptionList(*(self._book(r) for r in self.runbooks), id="books")
        yield Label("Recorded runs: Enter opens one (unfinished first)", classes="title")
        runs = [self._run(book, state) for book, state in self.runs]
        yield OptionList(
            *(runs or [Option(Text("none yet", style="dim"), disabled=True)]), id="runs"
        )
        if self.problems:
            text = "Runbook files left out:\n" + "\n".join(printable_line(p) for p in self.problems)
            yield Static(Text(text), id="problems")
        yield Footer()

    def _book(self, runbook: Runbook) -> Option:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(printable_line(runbook.title), style="bold")
        guide = f" (guide {runbook.guide})" if runbook.guide else ""
        text.append(f"  {len(runbook.steps)} steps{guide}", style="dim")
        if runbook.origin != "built-in":
            text.append(f"  {printable_line(runbook.origin)}", style="dim")
        return Option(text, id=BOOK_PREFIX + runbook.id)

    def _run(self, runbook: Runbook, state: RunState) -> Option:
        line = run_line(runbook, state, socket.gethostname())
        style = "" if state.unfinished else "dim"
        return Option(Text(printable_line(line), style=style), id=RUN_PREFIX + state.id)

    def on_mount(self) -> None:
        lists = self.query(OptionList)
        target = lists.last() if any(s.unfinished for _, s in self.runs) else lists.first()
        target.highlighted = 0
        target.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_back(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Leave runbooks", "Back to the dashboard", self.action_back)


class ParamsScreen(ModalScreen[dict[str, str] | None]):
    """The runbook's parameters, checked against their patterns before the run starts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="params.cancel"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="ParamsScreen")
        + """
    ParamsScreen #errors { color: $error; height: auto; }
    """
    )

    def __init__(self, runbook: Runbook) -> None:
        super().__init__()
        self.runbook = runbook

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(f"Start {printable_line(self.runbook.title)}"))
            for param in self.runbook.params:
                yield Label(Content(printable_line(param.prompt)))
                yield Input(value=param.default or "", placeholder=param.help, id=f"p-{param.name}")
            yield Static("", id="errors")
            yield Label("Enter to start, Escape to cancel")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
        else:
            self.dismiss({})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        given = {
            p.name: self.query_one(f"#p-{p.name}", Input).value.strip() for p in self.runbook.params
        }
        values, problems = param_values(self.runbook, {k: v for k, v in given.items() if v})
        if problems:
            self.query_one("#errors", Static).update(Text("\n".join(problems)))
            return
        self.dismiss(values)


class HeldScreen(ModalScreen[str | None]):
    """Another console holds the run: watch it, take it over (recorded), or leave it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "dismiss('watch')", "Watch read-only", id="held.watch"),
        Binding("t", "dismiss('take')", "Take over", id="held.take"),
        Binding("escape", "dismiss(None)", "Cancel", id="held.cancel"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="HeldScreen")

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content("This run is " + printable_line(self.message)))
            yield Label("w: watch it read-only   t: take it over (recorded)   Escape: cancel")


class ResumeOffer(ModalScreen[str | None]):
    """At start: unfinished runs nobody holds. Dismisses with a run id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Later", id="resume.later"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="ResumeOffer")
        + """
    ResumeOffer OptionList { height: auto; max-height: 8; border: none; }
    """
    )

    def __init__(self, runs: list[tuple[Runbook, RunState]]) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Unfinished runs: Enter resumes, Escape for later (runbooks: b)")
            yield OptionList(
                *(
                    Option(
                        Text(printable_line(run_line(book, state, socket.gethostname()))),
                        id=state.id,
                    )
                    for book, state in self.runs
                )
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
