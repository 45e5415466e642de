"""The war room: the key numbers in big digits, the incident clock and the alert timeline.

Made to be read from across a room on a shared terminal (160x48) and still
whole at 80x24, where the DB p95 card gives way. The screen renders the
snapshots the app hands it at every refresh and does no I/O; `w` (the app's
binding) or escape goes back to the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.events import Resize
from textual.widgets import Footer

from lessay_console.catalog import METRICS
from lessay_console.context import ConsoleContext
from lessay_console.monitor import Monitor, Snapshot
from lessay_console.rules import DisplayState
from lessay_console.widgets.big_number import BigNumber
from lessay_console.widgets.console_header import ConsoleHeader
from lessay_console.widgets.incident_clock import IncidentClock, incident_of
from lessay_console.widgets.opaque_screen import OpaqueScreen
from lessay_console.widgets.screen_commands import PaletteCommand, ScreenCommands
from lessay_console.widgets.timeline import Timeline, merged_rows

KEY_METRICS = (
    "api_latency_p95",
    "api_error_rate",
    "payment_success_rate",
    "active_sessions",
    "db_latency_p95",  # the first to go when the terminal is narrow
)
NARROW = 100  # below this width, four cards: five would cut the digits
TIMELINE_ROWS = 60  # more than fit at 160x48


class WarRoomScreen(OpaqueScreen[None]):
    """Big, unmistakable, and cheap to leave running."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            id="war-room.back",
            tooltip="Back to the screen the war room was opened from (w does the same).",
        ),
    ]
    COMMANDS: ClassVar = {ScreenCommands}

    DEFAULT_CSS = """
    WarRoomScreen #numbers {
        grid-size: 5;
        grid-gutter: 0 1;
        height: auto;
        padding: 0 1;
    }
    WarRoomScreen.-narrow #numbers { grid-size: 4; grid-gutter: 0; padding: 0; }
    WarRoomScreen.-narrow #big-db_latency_p95 { display: none; }
    /* 18 columns inside a card at 80x24: "Error rate PENDING" just fits without padding */
    WarRoomScreen.-narrow BigNumber { padding: 0; }
    WarRoomScreen #incident { margin: 0 1; }
    WarRoomScreen.-narrow #incident { margin: 0; }
    WarRoomScreen #timeline-box {
        height: 1fr;
        margin: 0 1;
        padding: 0 1;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
    }
    WarRoomScreen.-narrow #timeline-box { margin: 0; }
    """

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self.context = context
        # held rather than queried at every refresh (and still there during teardown)
        self._cards = [BigNumber(METRICS[name]) for name in KEY_METRICS]
        self._clock = IncidentClock(id="incident")
        self._timeline = Timeline(
            with_metric=True, empty="no alert since the console started", limit=TIMELINE_ROWS
        )

    def compose(self) -> ComposeResult:
        context = self.context
        yield ConsoleHeader(context.config.environment, str(context.operator), demo=context.demo)
        with Grid(id="numbers"):
            yield from self._cards
        yield self._clock
        with VerticalScroll(id="timeline-box") as box:
            box.border_title = "Alert timeline (newest first)"
            yield self._timeline
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.size.width)

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        self.set_class(width < NARROW, "-narrow")

    def show_snapshot(self, snapshot: Snapshot, monitor: Monitor) -> None:
        if not self.is_mounted:
            return
        statuses = {m.spec.name: m for m in snapshot.metrics}
        for card in self._cards:
            card.show(statuses.get(card.spec.name), snapshot.at)
        silent = sum(
            m.state.state in (DisplayState.NODATA, DisplayState.ERROR) for m in statuses.values()
        )
        self._clock.show(incident_of(snapshot), silent)
        histories = {name: monitor.evaluator.history(name) for name in monitor.metric_names}
        self._timeline.show(merged_rows(histories, snapshot.at, TIMELINE_ROWS))

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Leave the war room", "Back to the screen it was opened from", self.action_back)
