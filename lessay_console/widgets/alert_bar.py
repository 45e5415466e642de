"""The alert bar: firing and pending alerts, worst first, each with how long it has held."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lessay_console.formatting import format_held, format_reading, state_word
from lessay_console.monitor import MetricStatus, Snapshot
from lessay_console.rules import DisplayState, Severity

_ORDER = {"CRIT": 0, "WARN": 1, "PENDING": 2}
_STYLE = {"CRIT": "bold reverse", "WARN": "bold", "PENDING": ""}


def alerts(snapshot: Snapshot) -> list[MetricStatus]:
    """Firing and pending metrics, worst first, then longest-held first."""
    active = [
        m for m in snapshot.metrics if m.state.state in (DisplayState.FIRING, DisplayState.PENDING)
    ]
    return sorted(active, key=lambda m: (_ORDER[state_word(m.state)], m.state.since))


def new_criticals(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Metrics that turned critical between two snapshots (for the bell)."""

    def critical(snapshot: Snapshot | None) -> set[str]:
        if snapshot is None:
            return set()
        return {
            m.spec.name
            for m in snapshot.metrics
            if m.state.state is DisplayState.FIRING and m.state.severity is Severity.CRITICAL
        }

    return sorted(critical(after) - critical(before))


class AlertBar(Static):
    """One or two lines above the panes; the first thing an operator reads."""

    DEFAULT_CSS = """
    AlertBar { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    AlertBar.-calm { color: $success; }
    AlertBar.-alerting { background: $error 25%; }
    """

    def __init__(self) -> None:
        super().__init__("waiting for the first poll", id="alert-bar", markup=False)
        self._text = ""

    def show(self, snapshot: Snapshot) -> None:
        active = alerts(snapshot)
        if not active:
            line = Text("✓ no alerts firing or pending")
        else:
            line = Text()
            for index, status in enumerate(active):
                word = state_word(status.state)
                if index:
                    line.append(" · ")
                line.append(word, style=_STYLE[word])
                value = format_reading(status.spec, status.reading)
                held = format_held(snapshot.at - status.state.since)
                line.append(f" {status.spec.title} {value} {held}")
        if line.plain != self._text:  # send nothing when nothing changed
            self._text = line.plain
            self.update(line)
            self.set_class(not active, "-calm")
            self.set_class(bool(active), "-alerting")
