"""The wizard's main step: a symptom's checks running, their findings, the resolution.

Results stream in as each check ends (recorded in the journal first, then
shown). The detail pane shows the highlighted check, what a failure means,
then the resolution's steps. Actions run a resolution's command after an
explicit confirmation, with the output streaming below; notes, escalation and
export are keys away. Every untrusted text goes through the sanitizer and is
shown as plain content, never as markup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Footer, Log, OptionList, Static
from textual.widgets.option_list import Option

from lessay_console.checks.model import CheckResult, CheckStatus
from lessay_console.context import ConsoleContext
from lessay_console.sanitize import printable, printable_line
from lessay_console.troubleshooting import export
from lessay_console.troubleshooting.session import (
    Diagnosis,
    contact_of,
    incident_summary,
)
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.layout import STATUS_STYLES, hanging
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.prompts import ChooseOne, ConfirmCommand, NoteInput, shown_argv
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands

if TYPE_CHECKING:
    from lessay_console.checks.model import CheckSpec
    from lessay_console.troubleshooting.symptoms import Resolution


RUNNING = "RUN…"


def status_word(result: CheckResult | None) -> str:
    return RUNNING if result is None else result.status.value.upper()


class DiagnosisScreen(OpaqueScreen[None]):
    COMMANDS: ClassVar = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Re-run", id="diagnosis.rerun"),
        Binding("a", "actions", "Actions", id="diagnosis.actions"),
        Binding("n", "note", "Note", id="diagnosis.note"),
        Binding("e", "escalate", "Escalate", id="diagnosis.escalate"),
        Binding("x", "export", "Export", id="diagnosis.export"),
        Binding("escape", "back", "Back", id="diagnosis.back"),
    ]
    DEFAULT_CSS = """
    DiagnosisScreen #heading { padding: 0 1; text-style: bold; }
    DiagnosisScreen #progress { padding: 0 1; }
    DiagnosisScreen #heading.-unrecorded { color: $error; }
    DiagnosisScreen #checks, DiagnosisScreen #checks:focus {
        height: auto; max-height: 9; border: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DiagnosisScreen #detail { height: 1fr; padding: 0 1; border-top: solid $primary; }
    DiagnosisScreen #output { height: 8; display: none; border-top: solid $primary; }
    DiagnosisScreen #output.-shown { display: block; }
    """

    def __init__(self, context: ConsoleContext, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.context = context
        self.diagnosis = diagnosis
        self.results: dict[str, CheckResult] = {}
        self.running = False
        self.acting = False  # an action's command runs: leaving would cut it unrecorded

    # -- layout -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        context, diagnosis = self.context, self.diagnosis
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        yield Static(
            self._heading(), id="heading", classes="" if diagnosis.recorded else "-unrecorded"
        )
        yield Static("", id="progress")
        yield OptionList(*(self._option(spec) for spec in diagnosis.symptom.checks), id="checks")
        with VerticalScroll(id="detail"):
            yield Static("", id="detail-text")
        yield Log(id="output", max_lines=2000)
        yield Footer()

    def _heading(self) -> Text:
        diagnosis = self.diagnosis
        number = diagnosis.incident.id.rsplit("/", 1)[-1]
        where = (
            "recorded" if diagnosis.recorded else "NOT RECORDED: the journal could not be opened"
        )
        return Text(f"{printable_line(diagnosis.symptom.title)} · incident {number} · {where}")

    def _option(self, spec: CheckSpec) -> Option:
        return Option(self._prompt(spec, self.results.get(spec.id)), id=spec.id)

    def _prompt(self, spec: CheckSpec, result: CheckResult | None) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        style = "dim" if result is None else STATUS_STYLES[result.status]
        text.append(f"{status_word(result):<7} ", style=style)
        text.append(printable_line(spec.title))
        if result is not None:
            text.append("  " + printable_line(result.summary), style="dim")
        return text

    def on_mount(self) -> None:
        checks = self.query_one("#checks", OptionList)
        checks.highlighted = 0
        checks.focus()
        self.run_checks()

    # -- running checks -------------------------------------------------------
    @work(exclusive=True, group="checks")
    async def run_checks(self) -> None:
        self.running = True
        for spec in self.diagnosis.symptom.checks:
            self.results.pop(spec.id, None)
            self._show_result(spec.id)
        self._show_progress()
        try:
            await self.diagnosis.run_checks(self._on_result)
        finally:
            self.running = False
            # cancelled because the operator left the screen: its widgets are gone
            with contextlib.suppress(NoMatches):
                self._show_progress()

    def _on_result(self, result: CheckResult) -> None:
        self.results[result.id] = result
        self._show_result(result.id)
        self._show_progress()

    def _show_result(self, check_id: str) -> None:
        spec = next(s for s in self.diagnosis.symptom.checks if s.id == check_id)
        checks = self.query_one("#checks", OptionList)
        checks.replace_option_prompt(check_id, self._prompt(spec, self.results.get(check_id)))
        highlighted = checks.highlighted_option
        if highlighted is not None and highlighted.id == check_id:
            self._show_detail(check_id)

    def _show_progress(self) -> None:
        total = len(self.diagnosis.symptom.checks)
        done = len(self.results)
        counts: dict[CheckStatus, int] = {}
        for result in self.results.values():
            counts[result.status] = counts.get(result.status, 0) + 1
        # worst first, in a fixed order: not in the order the checks happened to end
        parts = [f"{counts[s]} {s.value.upper()}" for s in STATUS_STYLES if s in counts]
        state = "running" if self.running and done < total else "done"
        line = f"Checks {done}/{total} {state}" + (": " + ", ".join(parts) if parts else "")
        self.query_one("#progress", Static).update(Text(line))

    # -- the detail pane -----------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "checks" and event.option.id:
            self._show_detail(event.option.id)

    def _show_detail(self, check_id: str) -> None:
        spec = next(s for s in self.diagnosis.symptom.checks if s.id == check_id)
        result = self.results.get(check_id)
        head = Text()
        head.append(printable_line(spec.title), style="bold")
        head.append(f"  ({spec.kind})", style="dim")
        parts: list[RenderableType] = [head]
        if result is None:
            parts.append(Text("running…", style="dim"))
        else:
            rows = hanging()
            word = Text(status_word(result), style=STATUS_STYLES[result.status])
            rows.add_row(word, Text(f"{printable_line(result.summary)}  ({result.elapsed:.2f}s)"))
            if spec.explain and result.status in (CheckStatus.FAIL, CheckStatus.WARN):
                rows.add_row(Text("Why", style="bold"), Text(printable_line(spec.explain)))
            for line in result.detail:
                rows.add_row("", Text(printable(line)))
            parts.append(rows)
        parts += [Text(""), *self._resolution_parts()]
        self.query_one("#detail-text", Static).update(Group(*parts))

    def _resolution_parts(self) -> list[RenderableType]:
        symptom = self.diagnosis.symptom
        parts: list[RenderableType] = [Text("Resolution", style="bold underline")]
        for number, resolution in enumerate(symptom.resolutions, start=1):
            parts.append(Text(f"{number}. {printable_line(resolution.title)}", style="bold"))
            steps = hanging()
            for step in resolution.steps:
                steps.add_row("  -", Text(printable_line(step)))
            if resolution.command:
                danger = " (dangerous)" if resolution.dangerous else ""
                action = f"Action{danger}, press a: $ {shown_argv(resolution.command)}"
                steps.add_row("  ▶", Text(action, style="bold"))
            parts.append(steps)
        contact = contact_of(self.context.config, symptom.escalation)
        line = Text("\nEscalation: ", style="bold")
        line.append(printable_line(symptom.escalation), style="bold")
        line.append(f" ({printable_line(contact)}); press e")
        parts.append(line)
        return parts

    # -- intents -------------------------------------------------------------
    def action_rerun(self) -> None:
        if not self.running:
            self.run_checks()

    def action_actions(self) -> None:
        if self._refuse_while_acting():
            return
        actionable = [r for r in self.diagnosis.symptom.resolutions if r.command]
        if not actionable:
            self.notify("This symptom's resolutions have no command to run.", timeout=4)
            return

        def chosen(title: str | None) -> None:
            resolution = next((r for r in actionable if r.title == title), None)
            if resolution is not None:
                self._confirm_and_run(resolution)

        if len(actionable) == 1:
            chosen(actionable[0].title)
            return
        choices = [(r.title, f"{r.command_title}: $ {shown_argv(r.command)}") for r in actionable]
        self.app.push_screen(ChooseOne("Run which action?", choices), chosen)

    def _confirm_and_run(self, resolution: Resolution) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_action(resolution)

        self.app.push_screen(
            ConfirmCommand(resolution.command_title, resolution.command, resolution.dangerous),
            answered,
        )

    @work(exclusive=True, group="action")
    async def run_action(self, resolution: Resolution) -> None:
        output = self.query_one("#output", Log)
        output.add_class("-shown")
        output.write_line(f"$ {shown_argv(resolution.command)}")
        self.acting = True
        try:
            event = await self.diagnosis.run_action(resolution, emit=output.write_line)
        finally:
            self.acting = False
        output.write_line(f"-> {printable_line(event.data['summary'])} (recorded)")

    def _refuse_while_acting(self) -> bool:
        if self.acting:
            self.notify("An action is running: wait for its result.", severity="warning")
        return self.acting

    def action_note(self) -> None:
        def save(text: str | None) -> None:
            if text:
                self.save_note(text)

        self.app.push_screen(NoteInput(), save)

    @work(group="note")
    async def save_note(self, text: str) -> None:
        await self.diagnosis.add_note(text)
        self.notify("Note recorded." if self.diagnosis.recorded else "Note kept (not recorded).")

    def action_escalate(self) -> None:
        from lessay_console.screens.escalation import EscalationScreen

        symptom = self.diagnosis.symptom
        screen = EscalationScreen(
            self.context,
            symptom.escalation,
            contact_of(self.context.config, symptom.escalation),
            symptom.escalate_when,
            incident_summary(self.diagnosis.incident, symptom),
        )

        def done(record: bool | None) -> None:
            if record:
                self.record_escalation()

        self.app.push_screen(screen, done)

    @work(group="escalate")
    async def record_escalation(self) -> None:
        await self.diagnosis.escalate()
        self.notify(f"Escalation to {self.diagnosis.symptom.escalation} recorded.")

    def action_export(self) -> None:
        try:
            paths = write_exports(self.diagnosis, self.context.state_dir / "incidents")
        except OSError as error:  # an unusable state dir must not take the console down
            self.notify(f"Not exported: {printable_line(str(error))}", severity="error", timeout=30)
            return
        self.notify("Exported: " + ", ".join(str(p) for p in paths), timeout=10)

    def action_back(self) -> None:
        if not self._refuse_while_acting():
            self.dismiss(None)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Re-run checks", "Run this symptom's checks again", self.action_rerun)
        yield ("Run an action", "A resolution's command, after confirmation", self.action_actions)
        yield ("Add a note", "Recorded in the incident", self.action_note)
        yield ("Escalate", "Team, contact and a summary to paste", self.action_escalate)
        yield ("Export incident", "Markdown and JSON for the post-mortem", self.action_export)


def write_exports(diagnosis: Diagnosis, directory: Path) -> list[Path]:
    """The incident as Markdown and JSON files; their paths."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = diagnosis.incident.id.rsplit("/", 1)[-1]
    markdown, as_json = directory / f"{stem}.md", directory / f"{stem}.json"
    markdown.write_text(export.to_markdown(diagnosis.incident), encoding="utf-8")
    as_json.write_text(export.dumps(diagnosis.incident) + "\n", encoding="utf-8")
    return [markdown, as_json]
