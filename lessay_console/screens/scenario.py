"""Demo only: pick the demo backend's scenario, to see the panes go red and back."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from lessay_console.demo.scenarios import SCENARIOS


class ScenarioScreen(ModalScreen[str | None]):
    """Returns the chosen scenario's name, or None when dismissed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="scenario.cancel"),
    ]
    DEFAULT_CSS = """
    ScenarioScreen { align: center middle; }
    ScenarioScreen > Vertical {
        width: 64; height: auto; max-height: 90%; border: round $accent; padding: 0 1;
        background: $surface;
    }
    ScenarioScreen OptionList { height: auto; max-height: 16; border: none; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Demo scenario (Enter to switch, Escape to cancel)")
            options = [
                Option(f"{'●' if name == self.current else ' '} {name}: {s.description}", id=name)
                for name, s in SCENARIOS.items()
            ]
            yield OptionList(*options)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = list(SCENARIOS).index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
