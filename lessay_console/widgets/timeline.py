"""State transitions as a list, newest first: time, state word, value, how long the state held.

The drill-down shows one metric's transitions; the war room merges every
metric's into the alert timeline. The rows are computed by pure functions;
the widget renders them with its component classes (theme colours, the word
always there for a monochrome terminal) and repaints only when the text of
the rows changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from lessay_console.catalog import METRICS
from lessay_console.config.durations import format_age
from lessay_console.derived import Reading
from lessay_console.formatting import format_held, format_reading, state_class, state_word
from lessay_console.rules import DisplayState, MetricState, Transition


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One transition as shown."""

    at: float
    metric: str
    word: str  # "WARN", "PENDING warning", "OK", ...
    state: str  # the state's class without its dash: ok, pending, warn, crit, nodata, error
    value: str
    held: str  # "held 1m00s" for a state that ended, "ongoing 4m" for the current one

    def plain(self, with_metric: bool) -> tuple[str, ...]:
        title = (METRICS[self.metric].title,) if with_metric else ()
        return (clock_time(self.at), *title, self.word, self.value, self.held)


def clock_time(at: float) -> str:
    """Local wall-clock time, as the header's clock shows it."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def _shown_state(transition: Transition) -> MetricState:
    """The state a transition entered, as the formatters take it (one spelling of each word)."""
    return MetricState(
        transition.metric,
        transition.value,
        transition.state,
        transition.severity,
        transition.at,
        transition.at,
    )


def transition_word(transition: Transition) -> str:
    """The state word of a transition; a pending one says which severity it is heading for."""
    word = state_word(_shown_state(transition))
    if transition.state is DisplayState.PENDING and transition.severity is not None:
        return f"{word} {transition.severity.value}"
    return word


def metric_rows(transitions: Sequence[Transition], now: float) -> list[TimelineRow]:
    """One metric's transitions (oldest first, as the evaluator keeps them), newest first."""
    rows = []
    for index, transition in enumerate(transitions):
        following = transitions[index + 1] if index + 1 < len(transitions) else None
        if following is None:
            held = f"ongoing {format_held(now - transition.at)}"  # coarse: repaints once a minute
        else:
            held = f"held {format_age(following.at - transition.at)}"
        value = format_reading(METRICS[transition.metric], Reading(transition.value))
        rows.append(
            TimelineRow(
                transition.at,
                transition.metric,
                transition_word(transition),
                state_class(_shown_state(transition)).removeprefix("-"),
                value,
                held,
            )
        )
    rows.reverse()
    return rows


def alert_transitions(transitions: Sequence[Transition]) -> Sequence[Transition]:
    """A metric's transitions without its start-up: the first evaluation and the wait for
    a first value (NODATA, then OK) are not alerts, and every metric has them."""
    start = 0
    quiet = (DisplayState.OK, DisplayState.NODATA)
    while (
        start < len(transitions)
        and transitions[start].state in quiet
        and transitions[start].previous in (None, DisplayState.NODATA)
    ):
        start += 1
    return transitions[start:]


def merged_rows(
    histories: Mapping[str, Sequence[Transition]], now: float, limit: int = 100
) -> list[TimelineRow]:
    """The `limit` newest alert transitions of every metric, newest first (ties in the
    metrics' order). Only each metric's last `limit` are formatted: this runs every refresh."""
    order = {name: index for index, name in enumerate(histories)}
    rows = [
        row
        for transitions in histories.values()
        for row in metric_rows(alert_transitions(transitions)[-limit:], now)
    ]
    return sorted(rows, key=lambda row: (-row.at, order[row.metric]))[:limit]


class Timeline(Widget):
    """Rows of transitions; `show()` repaints only when their text changed."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--time",
        "timeline--muted",
        "timeline--ok",
        "timeline--pending",
        "timeline--warn",
        "timeline--crit",
        "timeline--nodata",
        "timeline--error",
    }

    DEFAULT_CSS = """
    Timeline { height: auto; }
    Timeline > .timeline--time { color: $text-muted; }
    Timeline > .timeline--muted { color: $text-muted; }
    Timeline > .timeline--ok { color: $success; }
    Timeline > .timeline--pending { color: $warning; }
    Timeline > .timeline--warn { color: $warning; text-style: bold; }
    Timeline > .timeline--crit { color: $error; text-style: bold reverse; }
    Timeline > .timeline--nodata { color: $text-muted; }
    Timeline > .timeline--error { color: $text-muted; }
    """

    def __init__(
        self,
        *,
        with_metric: bool = False,
        empty: str = "no transitions yet",
        limit: int = 100,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.with_metric = with_metric
        self.empty = empty
        self.limit = limit
        self.rows: list[TimelineRow] = []
        self._shown: list[tuple[str, ...]] = []

    def show(self, rows: Iterable[TimelineRow]) -> None:
        rows = list(rows)[: self.limit]
        plain = [row.plain(self.with_metric) for row in rows]
        if plain != self._shown:  # send nothing when nothing changed
            self._shown = plain
            self.rows = rows
            self.refresh(layout=True)

    def render(self) -> RenderableType:
        if not self.rows:
            return Text(self.empty, style=self.get_component_rich_style("timeline--muted"))
        table = Table.grid(padding=(0, 2))
        for _ in range(5 if self.with_metric else 4):
            table.add_column(no_wrap=True)
        muted = self.get_component_rich_style("timeline--muted")
        stamp = self.get_component_rich_style("timeline--time")
        for row in self.rows:
            cells = [Text(clock_time(row.at), style=stamp)]
            if self.with_metric:
                cells.append(Text(METRICS[row.metric].title))
            word_style = self.get_component_rich_style(f"timeline--{row.state}")
            cells += [
                Text(row.word, style=word_style),
                Text(row.value),
                Text(row.held, style=muted),
            ]
            table.add_row(*cells)
        return table
