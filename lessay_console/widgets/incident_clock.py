"""The incident clock: how long since the earliest alert that is still firing began.

It ticks every second on the app's clock (so a test can stop time), while
the snapshots, which say when the incident began, come at the refresh
interval. Only the digits that changed are sent: the widget repaints when
its text changes, once a second during an incident and never otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Digits, Label

from lessay_console.monitor import Snapshot
from lessay_console.rules import SEVERITIES_WORST_FIRST, Phase


@dataclass(frozen=True, slots=True)
class Incident:
    began: float  # when the earliest still-firing rule started firing
    first: str  # the title of its metric
    firing: int  # metrics with a firing rule


def incident_of(snapshot: Snapshot) -> Incident | None:
    """The incident in progress, or None when no rule fires.

    A rule counts from when it began firing (its phase start, not the metric's
    shown state, which restarts when warning escalates to critical), and while
    its source fails too: a broken scrape does not end an incident.
    """
    starts: list[tuple[float, str]] = []
    for status in snapshot.metrics:
        for level in SEVERITIES_WORST_FIRST:
            rule = status.state.rule(level)
            if rule is not None and rule.phase is Phase.FIRING:
                began = rule.phase_since if rule.phase_since is not None else status.state.since
                starts.append((began, status.spec.title))
    if not starts:
        return None
    began, first = min(starts)
    return Incident(began, first, len({title for _, title in starts}))


def format_clock(seconds: float) -> str:
    """H:MM:SS, hours unbounded: "0:06:00", "27:03:10"."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class IncidentClock(Widget):
    """Big digits while something fires, "no incident" otherwise."""

    DEFAULT_CSS = """
    IncidentClock {
        height: 5;
        layout: horizontal;
        border: round $panel-lighten-2;
        border-title-style: bold;
        padding: 0 2;
    }
    IncidentClock > Digits { width: auto; margin-right: 4; }
    IncidentClock > .about { width: 1fr; height: 3; content-align: left middle; }
    IncidentClock.-calm > Digits { display: none; }
    IncidentClock.-calm > .about { color: $success; text-style: bold; }
    IncidentClock.-incident { border: heavy $error; border-title-color: $error; }
    IncidentClock.-incident > Digits { color: $error; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-calm")
        self.incident: Incident | None = None
        self.without_data = 0  # metrics with no value: "no incident" is only as good as the data
        self._known = False  # no snapshot yet: say nothing rather than "no incident"
        self._shown: tuple[str, str] | None = None  # (digits, about) on screen
        self._digits = Digits("0:00:00")
        self._about = Label("waiting for the first poll", classes="about", markup=False)

    def compose(self) -> ComposeResult:
        yield self._digits
        yield self._about

    def on_mount(self) -> None:
        self.border_title = "Incident clock"
        self.tick()
        self.set_interval(1.0, self.tick)

    def show(self, incident: Incident | None, without_data: int = 0) -> None:
        self.incident, self.without_data, self._known = incident, without_data, True
        self.tick()

    def tick(self) -> None:
        if not (self.is_mounted and self._known):
            return
        incident = self.incident
        if incident is None:
            about = "✓ no incident: no alert firing"
            if self.without_data:
                about += f"\n{self.without_data} without data (see the dashboard)"
            shown = ("", about)
        else:
            now = getattr(self.app, "clock", time.time)()
            began = time.strftime("%H:%M:%S", time.localtime(incident.began))
            alerts = "1 metric" if incident.firing == 1 else f"{incident.firing} metrics"
            about = f"INCIDENT since {began}\nfirst: {incident.first} · {alerts} firing"
            shown = (format_clock(now - incident.began), about)
        before = self._shown or ("", "")
        self._shown = shown
        self.set_class(incident is None, "-calm")
        self.set_class(incident is not None, "-incident")
        if shown[0] and shown[0] != before[0]:  # only the digits, once a second
            self._digits.update(shown[0])
        if shown[1] != before[1]:
            self._about.update(shown[1])
