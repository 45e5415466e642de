"""Small shared pieces of layout: labelled rows that wrap, the colour of a check's status."""

from __future__ import annotations

from rich.table import Table

from lessay_console.checks.model import CheckStatus

STATUS_STYLES = {  # worst first: the order of the counts in the wizard's progress line
    CheckStatus.FAIL: "bold red",
    CheckStatus.ERROR: "magenta",
    CheckStatus.WARN: "yellow",
    CheckStatus.PASS: "green",
    CheckStatus.SKIPPED: "dim",
}


def hanging() -> Table:
    """Two columns, the second wrapping under itself: a label, then its text."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    return table
