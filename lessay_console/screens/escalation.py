"""Escalation: the team and how to reach it, and a summary ready to paste."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Footer, Label, Static, TextArea

from lessay_console.context import ConsoleContext
from lessay_console.sanitize import printable, printable_line
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands


class EscalationScreen(OpaqueScreen[bool]):
    """Dismisses with True when the operator records that they escalated."""

    COMMANDS: ClassVar = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "record", "Record: escalated", id="escalation.record"),
        Binding("c", "copy", "Copy summary", id="escalation.copy"),
        Binding("escape", "back", "Back", id="escalation.back"),
    ]
    DEFAULT_CSS = """
    EscalationScreen #team { padding: 0 1; text-style: bold; }
    EscalationScreen .line { padding: 0 1; }
    EscalationScreen #summary-title { padding: 0 1; margin-top: 1; }
    EscalationScreen TextArea { height: 1fr; }
    """

    def __init__(
        self, context: ConsoleContext, team: str, contact: str, when: str, summary: str
    ) -> None:
        super().__init__()
        self.context = context
        self.team, self.contact, self.when, self.summary = team, contact, when, summary

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        yield Static(Content(f"Escalate to: {printable_line(self.team)}"), id="team")
        yield Static(Content(f"Contact: {printable_line(self.contact)}"), classes="line")
        if self.when:
            yield Static(Content(f"When: {printable_line(self.when)}"), classes="line")
        yield Label("Incident summary (select and copy, or press c):", id="summary-title")
        yield TextArea(printable(self.summary), read_only=True, id="summary")
        yield Footer()

    def action_copy(self) -> None:
        # OSC 52 through the terminal: works over SSH where the terminal allows it
        self.app.copy_to_clipboard(self.summary)
        self.notify("Summary copied (if your terminal allows OSC 52 clipboard writes).")

    def action_record(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Record escalation", "Note in the incident that you escalated", self.action_record)
        yield ("Copy incident summary", "To the clipboard, through the terminal", self.action_copy)
