"""The troubleshooting wizard's first step: which symptom? Those the alerts point to first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from lessay_console.config.reader import Problem
from lessay_console.context import ConsoleContext
from lessay_console.sanitize import printable_line
from lessay_console.troubleshooting.session import Suggestion
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands


class SymptomScreen(OpaqueScreen[str | None]):
    """Dismisses with the chosen symptom's id, or None."""

    COMMANDS: ClassVar = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "diagnose", "Diagnose", id="symptoms.diagnose"),
        Binding("escape", "back", "Back", id="symptoms.back"),
    ]
    DEFAULT_CSS = """
    SymptomScreen #symptoms-title { padding: 0 1; text-style: bold; }
    SymptomScreen OptionList, SymptomScreen OptionList:focus {
        height: 1fr; border: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    SymptomScreen #problems { color: $warning; padding: 0 1; height: auto; max-height: 6; }
    """

    def __init__(
        self,
        context: ConsoleContext,
        suggestions: list[Suggestion],
        problems: list[Problem],
    ) -> None:
        super().__init__()
        self.context = context
        self.suggestions = suggestions
        self.problems = problems

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        pointed = sum(1 for s in self.suggestions if s.reasons)
        heading = "Troubleshoot: what do you see?"
        if pointed:
            heading += f"  ▶ {pointed} suggested by the alerts"
        yield Label(heading, id="symptoms-title")
        yield OptionList(*(self._option(s) for s in self.suggestions), id="symptoms")
        if self.problems:
            text = "Symptom files left out:\n" + "\n".join(
                printable_line(str(p)) for p in self.problems
            )
            yield Static(Text(text), id="problems")
        yield Footer()

    def _option(self, suggestion: Suggestion) -> Option:
        symptom = suggestion.symptom
        # two lines each, cut rather than wrapped: the list stays scannable at 80x24
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("▶ " if suggestion.reasons else "  ", style="bold")
        text.append(printable_line(symptom.title), style="bold")
        text.append(f"  → {printable_line(symptom.escalation)}", style="dim")
        if suggestion.reasons:
            text.append("\n    alerts: " + printable_line("; ".join(suggestion.reasons)))
        else:
            text.append("\n    " + printable_line(symptom.description), style="dim")
        return Option(text, id=symptom.id)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_diagnose(self) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None:
            self.dismiss(option.id)

    def action_back(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Leave troubleshooting", "Back to the dashboard", self.action_back)
