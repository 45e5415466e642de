"""Small modal questions: confirm a command before it runs, write a note.

A command is shown exactly as it will run (argv joined, each part sanitized);
No is the default answer, and a dangerous one says so in its title.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from lessay_console.sanitize import printable_line

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 76; max-width: 100%; height: auto; max-height: 90%;
    border: round $accent; padding: 0 1; background: $surface;
}}
{name} .buttons {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 1; min-width: 10; }}
"""


def shown_argv(argv: list[str] | tuple[str, ...]) -> str:
    """argv as an operator would type it: parts with spaces quoted, each sanitized."""
    import shlex

    return " ".join(shlex.quote(printable_line(part)) for part in argv)


class ConfirmCommand(ModalScreen[bool]):
    """Run this command? True only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Run", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="confirm.no"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="ConfirmCommand")
        + """
    ConfirmCommand .danger { color: $error; text-style: bold; }
    ConfirmCommand #argv { margin: 1 0; text-style: bold; }
    """
    )

    def __init__(self, title: str, argv: list[str] | tuple[str, ...], dangerous: bool) -> None:
        super().__init__()
        self.title_text, self.argv, self.dangerous = title, argv, dangerous

    def compose(self) -> ComposeResult:
        with Vertical():
            heading = "Run this DANGEROUS command?" if self.dangerous else "Run this command?"
            yield Label(heading, classes="danger" if self.dangerous else "")
            yield Static(Content(printable_line(self.title_text)))
            yield Static(Content("$ " + shown_argv(self.argv)), id="argv")
            if getattr(self.app, "context", None) is not None and self.app.context.read_only:
                yield Static(Content("Read-only mode: it will NOT run; the refusal is recorded."))
            else:
                yield Static(
                    Content("It runs on this host, without a shell; the result is recorded.")
                )
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="no", variant="primary")
                yield Button("Run (y)", id="yes", variant="error" if self.dangerous else "default")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the default answer is no

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NoteInput(ModalScreen[str | None]):
    """A note for the record; None when cancelled or empty."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="note.cancel"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="NoteInput")

    def __init__(
        self, prompt: str = "Note for the record (Enter to save, Escape to cancel)"
    ) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(placeholder="what you saw, did or decided", id="note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(text or None)


class ChooseOne(ModalScreen[str | None]):
    """Pick one of a few labelled choices; dismisses with its id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="choose.cancel"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="ChooseOne")
        + """
    ChooseOne OptionList { height: auto; max-height: 14; border: none; }
    """
    )

    def __init__(self, prompt: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.prompt, self.choices = prompt, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield OptionList(
                *(Option(Content(printable_line(label)), id=key) for key, label in self.choices)
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
