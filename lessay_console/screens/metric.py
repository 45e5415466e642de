"""A metric's drill-down: value and state, a plot over a chosen window, state history, breakdown.

Opened with Enter (or a click) on a dashboard pane. Like every screen it
renders what the app hands it (`show_snapshot`) and does no I/O. Text parts
are updated only when their text changed; the plot, the costliest thing on
screen to send, is redrawn when the window changes and otherwise at most
once per `Window.replot` seconds of the app's clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Label, Static

from lessay_console.catalog import METRICS
from lessay_console.context import ConsoleContext
from lessay_console.formatting import (
    STATE_CLASSES,
    format_held,
    format_number,
    format_reading,
    format_thresholds,
    format_why,
    state_class,
    state_word,
)
from lessay_console.monitor import MetricStatus, Monitor, Snapshot
from lessay_console.rules import Phase, Severity
from lessay_console.store import History
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.metric_plot import WINDOWS, MetricPlot, PlotData, Window, legend_text
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands
from lessay_console.widgets.timeline import Timeline, metric_rows

# What a breakdown is of, and the unit of its parts (pool and connections are counts)
BREAKDOWNS: dict[str, tuple[str, str]] = {
    "api_error_rate": ("Error rate by service", "%"),
    "db_pool_usage": ("Pool connections", ""),
    "pg_connections": ("Connections by state", ""),
    "disk": ("Used by mount", "%"),
}


def rule_phases(status: MetricStatus, now: float) -> str:
    """What each rule is doing when it is not OK: "warning firing 4m, critical pending <1m".

    The state word shows only the worst firing severity; an operator also wants to know
    that critical is pending, and for how long (its `for` is on the same line)."""
    parts = []
    for level in (Severity.WARNING, Severity.CRITICAL):
        rule = status.state.rule(level)
        if rule is not None and rule.phase is not Phase.OK and rule.phase_since is not None:
            parts.append(f"{level.value} {rule.phase.value} {format_held(now - rule.phase_since)}")
    return ", ".join(parts)


def window_extremes(
    history: History | None, points: tuple[tuple[float, float], ...], since: float, now: float
) -> tuple[float, float, float] | None:
    """(min, avg, max) over the window: from the raw points while the window is within the
    raw history (exact, and each evaluation counted once), else from the per-minute buckets."""
    if history is None:
        return None
    if now - since <= history.raw_span:
        values = [v for _, v in points]
        return (min(values), sum(values) / len(values), max(values)) if values else None
    return history.extremes(since, now)


class MetricScreen(OpaqueScreen[None]):
    """Everything known of one metric."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                str(index),
                f"window('{window.name}')",
                window.name,
                id=f"metric.window-{window.name}",
                tooltip=f"Plot the last {window.name}.",
            )
            for index, window in enumerate(WINDOWS, start=1)
        ),
        Binding(
            "escape,backspace", "back", "Back", id="metric.back", tooltip="Back to the dashboard."
        ),
    ]
    COMMANDS: ClassVar = {ScreenCommands}

    DEFAULT_CSS = """
    MetricScreen #body { padding: 0 1; }
    MetricScreen #body Label { text-wrap: nowrap; text-overflow: ellipsis; }
    MetricScreen #headline { height: 1; }
    MetricScreen #headline > Label { width: auto; margin-right: 2; text-style: bold; }
    MetricScreen #headline > #held { color: $text-muted; text-style: none; }
    MetricScreen #headline > #description { width: 1fr; color: $text-muted; text-style: none; }
    MetricScreen #headline.-ok > #state { color: $success; }
    MetricScreen #headline.-pending > #state { color: $warning; }
    MetricScreen #headline.-warn > #state, MetricScreen #headline.-warn > #value {
        color: $warning;
    }
    MetricScreen #headline.-crit > #state { color: $error; text-style: bold reverse; }
    MetricScreen #headline.-crit > #value { color: $error; }
    MetricScreen #headline.-nodata > #state, MetricScreen #headline.-error > #state {
        color: $text-muted;
    }
    MetricScreen #thresholds, MetricScreen #legend { color: $text-muted; }
    MetricScreen #why { color: $warning; }
    MetricScreen #window-bar { height: 1; }
    MetricScreen #window { width: auto; margin-right: 3; text-style: bold; }
    MetricScreen #extremes { width: 1fr; }
    MetricScreen #plot { height: 2fr; min-height: 8; }
    MetricScreen #details { height: 1fr; min-height: 5; max-height: 16; }
    MetricScreen #details > * {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
    }
    MetricScreen #history-box { width: 1fr; padding: 0 1; }
    MetricScreen #breakdown { width: 36; height: 100%; padding: 0 1; }
    """

    def __init__(self, context: ConsoleContext, metric: str) -> None:
        super().__init__()
        self.context = context
        self.metric = metric
        self.spec = METRICS[metric]
        self.window: Window = WINDOWS[0]
        self._shown: dict[str, str] = {}
        self._monitor: Monitor | None = None
        self._status: MetricStatus | None = None
        self._now = 0.0
        self._plotted: tuple[float, str] | None = None  # (app time, window) of the last plot
        # The parts that change, held here rather than queried: no CSS query per refresh,
        # and a refresh that comes while the app tears the screen down finds them still.
        texts = {
            "title": self.spec.title,
            "value": "-",
            "state": "…",
            "held": "",
            "description": self.spec.description,
            "thresholds": "",
            "why": "",
            "window": self._window_text(),
            "extremes": "",
            "legend": "",
        }
        self._labels = {part: Label(text, id=part, markup=False) for part, text in texts.items()}
        self._headline = Horizontal(id="headline", classes="-nodata")
        self._plot = MetricPlot(id="plot")
        self._history = Timeline(id="history", empty="no state recorded yet")
        self._breakdown = Static("", id="breakdown", markup=False)

    def compose(self) -> ComposeResult:
        context, labels = self.context, self._labels
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        with Vertical(id="body"):
            with self._headline:
                for part in ("title", "value", "state", "held", "description"):
                    yield labels[part]
            yield labels["thresholds"]
            yield labels["why"]
            with Horizontal(id="window-bar"):
                yield labels["window"]
                yield labels["extremes"]
            yield labels["legend"]
            yield self._plot
            with Horizontal(id="details"):
                with VerticalScroll(id="history-box") as history_box:
                    history_box.border_title = "State history (newest first)"
                    yield self._history
                yield self._breakdown
        yield Footer()

    def on_mount(self) -> None:
        self._labels["why"].display = False
        self._breakdown.border_title = BREAKDOWNS.get(self.metric, ("Breakdown", ""))[0]
        self._breakdown.display = False

    # -- rendering -----------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot, monitor: Monitor) -> None:
        if not self.is_mounted:
            return
        self._monitor, self._now = monitor, snapshot.at
        status = next((m for m in snapshot.metrics if m.spec.name == self.metric), None)
        if status is None:
            self._set("why", "no configured source feeds this metric")
            return
        self._status = status
        self._show_status(status, snapshot.at)
        history = monitor.evaluator.history(self.metric)
        self._history.show(metric_rows(history, snapshot.at))
        self._show_breakdown(status.reading.breakdown)
        plotted = self._plotted
        if plotted is None or snapshot.at - plotted[0] >= self.window.replot:
            self._replot()

    def _show_status(self, status: MetricStatus, now: float) -> None:
        state = status.state
        self._set("value", format_reading(status.spec, status.reading))
        self._set("state", state_word(state))
        self._set("held", f"for {format_held(now - state.since)}")
        thresholds = "thresholds: " + format_thresholds(status.thresholds, self.unit)
        phases = rule_phases(status, now)
        self._set("thresholds", f"{thresholds}  ({phases})" if phases else thresholds)
        self._set("why", format_why(status))
        self._set("legend", legend_text(self.spec.title, status.thresholds, self.unit))
        headline = self._headline
        wanted = state_class(state)
        if not headline.has_class(wanted):
            headline.remove_class(*STATE_CLASSES)
            headline.add_class(wanted)

    def _show_breakdown(self, breakdown: tuple[tuple[str, float], ...]) -> None:
        unit = BREAKDOWNS.get(self.metric, ("", self.unit))[1]
        rows = [(name, format_number(value, unit)) for name, value in breakdown]
        plain = "\n".join(f"{name} {value}" for name, value in rows)
        if self._shown.get("breakdown") == plain:
            return
        self._shown["breakdown"] = plain
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for name, value in rows:
            table.add_row(Text(name), Text(value))  # Text: label values shown literally
        self._breakdown.update(table)
        self._breakdown.display = bool(rows)

    def _replot(self) -> None:
        if self._monitor is None or self._status is None:
            return
        window, now = self.window, self._now
        self._plotted = (now, window.name)
        history = self._monitor.history.get(self.metric)
        since = now - window.seconds
        points = tuple(history.points(since, now)) if history is not None else ()
        extremes = window_extremes(history, points, since, now)
        self._plot.draw(PlotData(points, now, window, self._status.thresholds, self.unit))
        if extremes is None:
            self._set("extremes", f"no values in the last {window.name}")
        else:
            low, mean, high = (format_number(v, self.unit) for v in extremes)
            self._set("extremes", f"min {low} · avg {mean} · max {high}")

    def _set(self, part: str, text: str) -> None:
        if self._shown.get(part) != text:
            self._shown[part] = text
            label = self._labels[part]
            label.update(text)
            if part == "why":
                label.display = bool(text)

    def _window_text(self) -> str:
        names = (f"[{w.name}]" if w is self.window else w.name for w in WINDOWS)
        return "window " + " ".join(names)

    @property
    def unit(self) -> str:
        return self.spec.unit

    # -- intents -------------------------------------------------------------
    def action_window(self, name: str) -> None:
        """Plot another window (and its min/avg/max) now, not at the next redraw."""
        self.window = next(w for w in WINDOWS if w.name == name)
        self._labels["window"].update(self._window_text())
        self._replot()

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        for window in WINDOWS:
            yield (
                f"Plot window: {window.name}",
                f"Plot {self.spec.title} over the last {window.name}",
                partial(self.action_window, window.name),
            )
        yield ("Back to the dashboard", "Leave the drill-down", self.action_back)
