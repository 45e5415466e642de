"""The first screen: what this console is pointed at and where it keeps its records."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from lessay_console.config.summary import source_rows
from lessay_console.context import ConsoleContext
from lessay_console.widgets.console_header import ConsoleHeader

LABEL_WIDTH = 18


class OverviewScreen(Screen[None]):
    """Sources, configuration file and state directory, at a glance."""

    DEFAULT_CSS = """
    OverviewScreen #overview { padding: 0 1; }
    OverviewScreen .section-title { text-style: bold; margin-top: 1; }
    """

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self.context = context

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        with VerticalScroll(id="overview"):
            yield Static("Sources", classes="section-title")
            yield Static(self._sources_table(), id="sources")
            yield Static("Records", classes="section-title")
            yield Static(self._records_table(), id="records")
        yield Footer()

    def show_context(self, context: ConsoleContext) -> None:
        """Show a changed context (the demo backend came up)."""
        self.context = context
        self.query_one("#sources", Static).update(self._sources_table())
        self.query_one("#records", Static).update(self._records_table())

    def _sources_table(self) -> Table | Text:
        if self.context.starting:
            return Text("demo backend starting…", style="dim")
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, min_width=LABEL_WIDTH)
        table.add_column(overflow="fold")
        for row in source_rows(self.context.config):
            style = "" if row.configured else "dim"
            # Text, not markup: values come from files and must show literally
            table.add_row(Text(row.name), Text(row.target, style=style))
        return table

    def _records_table(self) -> Table:
        context = self.context
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, min_width=LABEL_WIDTH)
        table.add_column(overflow="fold")
        source = context.config.source
        table.add_row(
            Text("Configuration"),
            Text(str(source) if source else "built-in defaults (no file found)"),
        )
        table.add_row(Text("State directory"), Text(str(context.state_dir)))
        if context.demo_url:
            table.add_row(Text("Demo backend"), Text(context.demo_url))
        return table
