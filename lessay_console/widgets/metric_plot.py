"""A metric's values over a window, with its warning and critical thresholds as lines.

The x axis is time before now ("-5m" … "now"), the y axis starts at zero for
the non-negative metrics the console watches and always reaches the
thresholds, so the distance to them is visible. The threshold lines differ in
their marks (`-` warning, `=` critical), not only in colour; the legend is
text the screen shows beside the plot. Colours come from the app's theme at
render time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import RenderResult
from textual.color import Color
from textual_plotext import PlotextPlot

from lessay_console.config.model import MetricThresholds
from lessay_console.formatting import format_number, format_rule

DATA_MARKER, WARNING_MARKER, CRITICAL_MARKER = "braille", "-", "="
LEGEND_MARKS = {"data": "⣿", "warning": "--", "critical": "=="}


@dataclass(frozen=True, slots=True)
class Window:
    """A plot window: its span, how the x axis counts, how often it is worth redrawing."""

    name: str  # "5m", "1h", "24h"
    seconds: float
    unit_seconds: float  # one x unit: a minute or an hour
    suffix: str
    tick: float  # between x ticks, in x units
    replot: float  # seconds of app clock between redraws: a pixel's worth of time


WINDOWS = (
    Window("5m", 300, 60, "m", 1, 5),
    Window("1h", 3600, 60, "m", 10, 30),
    Window("24h", 86400, 3600, "h", 4, 60),
)


@dataclass(frozen=True, slots=True)
class PlotData:
    """What one drawing of the plot needs; equal data draws the same picture."""

    points: tuple[tuple[float, float], ...]
    now: float
    window: Window
    thresholds: MetricThresholds
    unit: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about `count` of them (1, 2, 2.5, 5 x 10^n)."""
    if high <= low:  # a flat line (all zeros): a unit range, not a degenerate axis
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]


def thin(points: Sequence[tuple[float, float]], buckets: int) -> list[tuple[float, float]]:
    """At most two points a bucket, the lowest and highest, in time order: fewer points
    to draw and still every spike and dip (a p95 spike is what the operator looks for)."""
    if len(points) <= 2 * buckets:
        return list(points)
    size = len(points) / buckets
    kept: list[tuple[float, float]] = []
    for index in range(buckets):
        chunk = points[int(index * size) : int((index + 1) * size)]
        if chunk:
            low = min(chunk, key=lambda p: p[1])
            high = max(chunk, key=lambda p: p[1])
            kept += sorted({low, high})
    return kept


def legend_text(title: str, thresholds: MetricThresholds, unit: str) -> str:
    """What each line is, readable without colour."""
    parts = [f"{LEGEND_MARKS['data']} {title}"]
    if thresholds.warning:
        parts.append(f"{LEGEND_MARKS['warning']} warning {format_rule(thresholds.warning, unit)}")
    if thresholds.critical:
        parts.append(
            f"{LEGEND_MARKS['critical']} critical {format_rule(thresholds.critical, unit)}"
        )
    return "   ".join(parts)


def _tick_label(value: float, unit: str) -> str:
    return "0" if value == 0 else format_number(value, unit)


class MetricPlot(PlotextPlot):
    """The plot; `draw()` stores the data, and the figure is built when Textual renders."""

    DEFAULT_CSS = "MetricPlot { height: 1fr; min-height: 6; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: PlotData | None = None

    def draw(self, data: PlotData) -> bool:
        """Show `data`; False (and no repaint) when it is what is already shown."""
        if data == self.data:
            return False
        self.data = data
        self.refresh()
        return True

    def _colour(self, variable: str) -> tuple[int, int, int]:
        return Color.parse(self.app.theme_variables[variable]).rgb

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_figure()
        if self.data is not None:
            self._build(self.data)
        return super().render()

    def _build(self, data: PlotData) -> None:
        plt, window = self.plt, data.window
        left = -window.seconds / window.unit_seconds
        ys: list[float] = []
        if data.points:
            thinned = thin(data.points, max(1, self.size.width))
            xs = [(t - data.now) / window.unit_seconds for t, _ in thinned]
            ys = [v for _, v in thinned]
            plt.plot(xs, ys, marker=DATA_MARKER, color=self._colour("primary"))
        else:
            plt.title(f"no values in the last {window.name}")
        lines = (
            (data.thresholds.warning, WARNING_MARKER, "warning"),
            (data.thresholds.critical, CRITICAL_MARKER, "error"),
        )
        levels = []
        for rule, marker, colour in lines:
            if rule is not None:
                levels.append(rule.value)
                plt.plot([left, 0], [rule.value] * 2, marker=marker, color=self._colour(colour))
        values = ys + levels
        low = min(0.0, *values) if values else 0.0
        high = max(values) if values else 1.0
        ticks = nice_ticks(low, high * 1.05 if high > 0 else high)
        plt.ylim(ticks[0], ticks[-1])
        plt.yticks(ticks, [_tick_label(t, data.unit) for t in ticks])
        xticks = [left + i * window.tick for i in range(round(-left / window.tick) + 1)]
        labels = [f"{x:g}{window.suffix}" if x else "now" for x in xticks]
        plt.xlim(left, 0)
        plt.xticks(xticks, labels)
