"""A key number for the war room: title and state word on top, the value in big digits.

Big digits (Textual's `Digits`, three rows high) carry the number; the unit
goes on the line below, with how long the state has held, so the digits stay
digits. The state word is always there beside the colour: a monochrome
terminal, or a colour-blind reader across the room, reads the same.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Digits, Label

from lessay_console.catalog import MetricSpec
from lessay_console.derived import Reading
from lessay_console.formatting import (
    STATE_CLASSES,
    format_held,
    format_reading,
    state_class,
    state_word,
)
from lessay_console.monitor import MetricStatus


def big_value(spec: MetricSpec, reading: Reading) -> tuple[str, str]:
    """The digits and the unit: milliseconds stay milliseconds ("1,065", "ms"), so that the
    unit under the digits does not flip between ms and s as a latency crosses a second."""
    if spec.unit == "ms" and reading.value is not None:
        return f"{reading.value:,.0f}", "≥ ms" if reading.at_least else "ms"
    return split_value(format_reading(spec, reading))


def split_value(text: str) -> tuple[str, str]:
    """ "1.07 s" -> ("1.07", "s"), "3.7%" -> ("3.7", "%"), "≥2.5 s" -> ("2.5", "≥ s")."""
    at_least = text.startswith("≥")
    text = text.removeprefix("≥")
    if text.endswith("%"):
        number, unit = text[:-1], "%"
    elif " " in text:
        number, unit = text.rsplit(" ", 1)
    else:
        number, unit = text, ""
    return number, f"≥ {unit}".strip() if at_least else unit


class BigNumber(Widget):
    """One metric, big; `show()` touches only the parts whose text changed."""

    DEFAULT_CSS = """
    BigNumber {
        height: 7;
        border: round $panel-lighten-2;
        padding: 0 1;
    }
    BigNumber > .top { height: 1; }
    BigNumber Label { text-wrap: nowrap; text-overflow: ellipsis; }
    BigNumber > .top > .title { width: 1fr; text-style: bold; }
    BigNumber > .top > .state { width: auto; margin-left: 1; text-style: bold; }
    BigNumber > Digits { width: auto; }
    BigNumber > .meta { color: $text-muted; }

    BigNumber.-ok > .top > .state { color: $success; }
    BigNumber.-pending > .top > .state { color: $warning; }
    BigNumber.-warn { border: heavy $warning; background: $warning 10%; }
    BigNumber.-warn > .top > .state, BigNumber.-warn > Digits { color: $warning; }
    BigNumber.-crit { border: heavy $error; background: $error 20%; }
    BigNumber.-crit > .top > .state { color: $error; text-style: bold reverse; }
    BigNumber.-crit > Digits { color: $error; text-style: bold; }
    BigNumber.-nodata > .top > .state, BigNumber.-error > .top > .state { color: $text-muted; }
    BigNumber.-nodata > Digits, BigNumber.-error > Digits { color: $text-muted; }
    """

    def __init__(self, spec: MetricSpec) -> None:
        super().__init__(id=f"big-{spec.name}", classes="-nodata")
        self.spec = spec
        self._shown: dict[str, str] = {}
        self._state = Label("…", classes="state")
        self._digits = Digits("-")
        self._meta = Label("waiting for the first poll", classes="meta", markup=False)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="top"):
            yield Label(self.spec.title, classes="title", markup=False)
            yield self._state
        yield self._digits
        yield self._meta

    def show(self, status: MetricStatus | None, now: float) -> None:
        if status is None:  # no configured source feeds it
            self._set("state", "N/A")
            self._set("meta", "not monitored")
            return
        state = status.state
        number, unit = big_value(status.spec, status.reading)
        self._set("state", state_word(state))
        held = f"for {format_held(now - state.since)}"
        self._set("meta", f"{unit} · {held}" if unit else held)
        if self._shown.get("digits") != number:
            self._shown["digits"] = number
            self._digits.update(number)
        wanted = state_class(state)
        if not self.has_class(wanted):
            self.remove_class(*STATE_CLASSES)
            self.add_class(wanted)

    def _set(self, part: str, text: str) -> None:
        if self._shown.get(part) != text:
            self._shown[part] = text
            (self._state if part == "state" else self._meta).update(text)
