"""One metric: title, value, state word, trend, thresholds (or why there is no value), held for.

The same widget is a bordered card in the grid and a single line in the
compact list (the container's `-compact` class switches the layout). Each
part is its own small widget and is updated only when its text changes, so
a refresh sends only what changed to the terminal.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from lessay_console.catalog import MetricSpec
from lessay_console.formatting import (
    STATE_CLASSES,
    format_held,
    format_reading,
    format_thresholds,
    format_why,
    state_class,
    state_word,
)
from lessay_console.monitor import MetricStatus


class MetricPane(Widget, can_focus=True):
    """A metric's pane; Enter or a click asks for its drill-down."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Details", id="pane.open")]

    DEFAULT_CSS = """
    MetricPane {
        height: 6;
        border: round $panel-lighten-2;
        padding: 0 1;
        layout: grid;
        grid-size: 2 4;
        grid-columns: 1fr auto;
    }
    /* focus must not look like a state: the title is reversed, the border keeps its colour */
    MetricPane:focus > .title { text-style: bold reverse; }
    MetricPane > Label { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MetricPane > .title { text-style: bold; }
    MetricPane > .state { width: auto; text-style: bold; }
    MetricPane > .value { text-style: bold; }
    MetricPane > .held { width: auto; color: $text-muted; }
    MetricPane > .trend { column-span: 2; height: 1; }
    MetricPane > .trend > .sparkline--max-color { color: $primary; }
    MetricPane > .trend > .sparkline--min-color { color: $primary; }
    MetricPane > .detail { column-span: 2; color: $text-muted; }

    MetricPane.-ok > .state { color: $success; }
    MetricPane.-pending > .state { color: $warning; }
    MetricPane.-warn { border: round $warning; }
    MetricPane.-warn > .state, MetricPane.-warn > .value { color: $warning; }
    MetricPane.-crit { border: heavy $error; }
    MetricPane.-crit > .state, MetricPane.-crit > .value { color: $error; }
    MetricPane.-nodata > .state, MetricPane.-error > .state { color: $text-muted; }
    MetricPane.-nodata > .detail, MetricPane.-error > .detail { color: $warning; }
    """

    class Selected(Message):
        """The operator asked for a metric's details."""

        def __init__(self, metric: str) -> None:
            super().__init__()
            self.metric = metric

    def __init__(self, spec: MetricSpec) -> None:
        super().__init__(id=f"pane-{spec.name}", classes="-nodata")
        self.spec = spec
        self._shown: dict[str, str] = {}
        self._trend: list[float] = []
        self._early: tuple[MetricStatus, list[float], float] | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.spec.title, classes="title", markup=False)
        yield Label("…", classes="state")
        yield Label("-", classes="value", markup=False)
        yield Label("", classes="held")
        yield Sparkline([], classes="trend")
        yield Label("waiting for the first poll", classes="detail", markup=False)

    def on_mount(self) -> None:
        self.call_after_refresh(self._show_early)

    def _show_early(self) -> None:
        if self._early is not None:
            self.show(*self._early)

    def show(self, status: MetricStatus, trend: list[float], now: float) -> None:
        """Render `status`; parts whose text did not change are not touched."""
        if not self.query(".state"):  # a snapshot can come before the pane's parts exist
            self._early = (status, trend, now)
            return
        state = status.state
        self._set("state", state_word(state))
        self._set("value", format_reading(status.spec, status.reading))
        self._set("held", format_held(now - state.since))
        why = format_why(status)
        self._set("detail", why or format_thresholds(status.thresholds, status.spec.unit))
        wanted = state_class(state)
        if not self.has_class(wanted):
            self.remove_class(*STATE_CLASSES)
            self.add_class(wanted)
        if len(trend) < 2:  # one bar is not a trend (and would draw full height)
            trend = []
        if trend != self._trend:
            self._trend = trend
            self.query_one(".trend", Sparkline).data = trend

    def _set(self, part: str, text: str) -> None:
        if self._shown.get(part) != text:
            self._shown[part] = text
            self.query_one(f".{part}", Label).update(text)

    def action_open(self) -> None:
        self.post_message(self.Selected(self.spec.name))

    def on_click(self) -> None:
        self.post_message(self.Selected(self.spec.name))
