"""The dashboard: every metric's pane, the alert bar, header and footer.

Large terminals get a grid of cards; small ones (80x24 included) a compact
list, one line per metric, so that nothing is cut. The screen renders the
snapshots the app hands it; it does no I/O.
"""

from __future__ import annotations

import math
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Static

from lessay_console.catalog import METRICS
from lessay_console.context import ConsoleContext
from lessay_console.monitor import Monitor, Snapshot
from lessay_console.widgets.alert_bar import AlertBar
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.metric_pane import MetricPane

CARD_WIDTH = 38  # a card's width in the grid, borders included
CARD_HEIGHT = 6
CHROME_ROWS = 4  # header, alert bar, footer and a spare line
TREND_BINS, TREND_BIN_SECONDS = 24, 15.0  # six minutes of trend, one bar per 15 s


def _significant(value: float, digits: int = 3) -> float:
    """`value` to a few significant digits: a sparkline scales from its own minimum to
    its maximum, so noise far below what the pane shows (a disk at 21.9 %) would
    otherwise fill its whole height."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


class DashboardScreen(Screen[None]):
    """What an operator looks at for hours."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "app.focus_next", "Next", show=False, id="dashboard.next"),
        Binding("up,k", "app.focus_previous", "Previous", show=False, id="dashboard.previous"),
    ]

    DEFAULT_CSS = """
    DashboardScreen #panes { layout: grid; grid-gutter: 0 1; grid-rows: 6; padding: 0 1; }
    DashboardScreen #panes.-compact { layout: vertical; padding: 0; }
    DashboardScreen #panes.-compact > MetricPane {
        layout: horizontal; height: 1; border: none; padding: 0 1;
    }
    DashboardScreen #panes.-compact > MetricPane:focus { background: $primary 25%; }
    DashboardScreen #panes.-compact > MetricPane > .title { width: 13; }
    DashboardScreen #panes.-compact > MetricPane > .state { width: 8; }
    DashboardScreen #panes.-compact > MetricPane > .value { width: 11; }
    DashboardScreen #panes.-compact > MetricPane > .held { width: 5; }
    DashboardScreen #panes.-compact > MetricPane > .trend { width: 10; margin-right: 1; }
    DashboardScreen #panes.-compact > MetricPane > .detail { width: 1fr; }
    DashboardScreen #waiting { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self.context = context
        self._panes: dict[str, MetricPane] = {}
        self._names: list[str] | None = None  # known before the screen was composed

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        yield AlertBar()
        with VerticalScroll(id="panes"):
            yield Static("starting the sources…", id="waiting")
        yield Footer()

    def on_mount(self) -> None:
        if self._names is not None:
            self.set_metrics(self._names)

    def set_metrics(self, names: list[str]) -> None:
        """Mount a pane per metric, in the guide's order (once the sources are known)."""
        if self._panes:
            return
        if not self.query("#panes"):  # not composed yet: on_mount comes back to it
            self._names = names
            return
        container = self.query_one("#panes")
        container.query("#waiting").remove()
        for name in names:
            self._panes[name] = MetricPane(METRICS[name])
        container.mount(*self._panes.values())
        self._fit(self.size.width, self.size.height)
        first = next(iter(self._panes.values()), None)
        if first is not None:
            self.call_after_refresh(first.focus)

    def show_snapshot(self, snapshot: Snapshot, monitor: Monitor) -> None:
        bars = self.query(AlertBar)
        if not bars:  # not composed yet, or torn down as the app exits
            return
        bars.first().show(snapshot)
        for status in snapshot.metrics:
            pane = self._panes.get(status.spec.name)
            if pane is None:
                continue
            history = monitor.history.get(status.spec.name)
            trend = history.trend(snapshot.at, TREND_BINS, TREND_BIN_SECONDS) if history else []
            pane.show(status, [_significant(value) for value in trend], snapshot.at)

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """The grid when every card fits on screen, else one line per metric."""
        count = max(1, len(self._panes))
        columns = max(1, (width - 2) // CARD_WIDTH)
        rows = -(-count // columns)
        compact = rows * CARD_HEIGHT + CHROME_ROWS > height
        panes = self.query_one("#panes")
        panes.set_class(compact, "-compact")
        if not compact:
            panes.styles.grid_size_columns = columns

    def on_metric_pane_selected(self, message: MetricPane.Selected) -> None:
        self.app.open_metric(message.metric)  # type: ignore[attr-defined]
