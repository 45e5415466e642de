"""What the run screen shows of one step: instructions, command, result, checks, notes.

Pure rendering of the engine's state (no I/O): every untrusted text goes
through the sanitizer and is shown as plain text, never markup.
"""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.text import Text

from lessay_console.runbooks.engine import RunEngine
from lessay_console.runbooks.model import Step
from lessay_console.runbooks.resolve import fill, resolve_command
from lessay_console.runbooks.state import StepStatus
from lessay_console.runbooks.watching import pending_gap
from lessay_console.sanitize import printable, printable_line
from lessay_console.troubleshooting.export import iso
from lessay_console.widgets.layout import STATUS_STYLES, hanging


def reflow(text: str) -> str:
    """Paragraphs as written in a TOML string, their line breaks joined: the pane wraps."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def step_detail(engine: RunEngine, step: Step, now: float, *, with_output: bool) -> Group:
    """Everything about one step: what to do, its command, result, checks, notes, output."""
    state = engine.state.steps[step.id]
    values = engine.values(percent="{percent}")
    head = Text()
    head.append(printable_line(step.title), style="bold")
    head.append(f"  ({step.kind}, {state.status.value}", style="dim")
    if state.by:
        head.append(f", {state.by}", style="dim")
    head.append(")", style="dim")
    rows = hanging()
    instructions = Text(printable(reflow(fill(step.instructions, values))))
    for line in _kind_lines(engine, step, values, now):
        rows.add_row("", line)
    if state.outcome:
        rows.add_row(Text("Result", style="bold"), Text(printable_line(state.outcome)))
    if state.note:
        rows.add_row(Text("Note", style="bold"), Text(printable_line(state.note)))
    for result in state.checks.values():
        word = Text(result.status.value.upper(), style=STATUS_STYLES[result.status])
        rows.add_row(
            word, Text(f"{printable_line(result.title)}: {printable_line(result.summary)}")
        )
    parts: list[RenderableType] = [head, instructions, rows]
    parts.append(Text(_hint(engine, step), style="italic"))
    notes = [e for e in engine.state.notes if e.data.get("step") == step.id]
    for event in notes:
        parts.append(
            Text(f"{iso(event.at)} {event.operator}: {printable_line(event.data['text'])}")
        )
    if state.output and with_output:
        parts.append(Text("Output (recorded):", style="bold"))
        parts.append(Text(printable("\n".join(state.output[-40:]))))
    return Group(*parts)


def _kind_lines(engine: RunEngine, step: Step, values: dict[str, str], now: float) -> list[Text]:
    config = engine.deps.config
    state = engine.state.steps[step.id]
    lines = []
    spec = step.command or (step.rollout.command if step.rollout else None)
    if spec is not None:
        resolved = resolve_command(spec, config, values)
        danger = " (dangerous: asks first)" if spec.dangerous else ""
        lines.append(Text(f"$ {printable_line(resolved.display)}{danger}", style="bold"))
    if step.rollout is not None:
        stages = ", ".join(
            f"{p:g}%" + (" ✓" if p in state.stages_done else "") for p in step.rollout.stages
        )
        lines.append(Text(f"Stages: {stages}"))
        if step.rollout.rollback is not None:
            back = resolve_command(step.rollout.rollback, config, values)
            lines.append(Text(f"Rollback (x): $ {printable_line(back.display)}"))
    if step.checks:
        lines.append(Text("Checks: " + ", ".join(printable_line(c.title) for c in step.checks)))
    if step.watch is not None:
        lines.append(Text(_watch_line(engine, step, now)))
    return lines


def _watch_line(engine: RunEngine, step: Step, now: float) -> str:
    state = engine.state.steps[step.id]
    watched = ", ".join(step.watch.alerts) if step.watch and step.watch.alerts else "every alert"
    if state.watch_until is None:
        return f"Watches {watched}; fails on {step.watch.fail_on if step.watch else ''}"
    left = state.watch_until - now
    gap = pending_gap(engine, step)
    text = f"Watching {watched}: {max(0, int(left // 60))}m {max(0, int(left % 60))}s left"
    if gap is not None:
        text += f"; unwatched {iso(gap[0])} to {iso(gap[1])}: tell what happened (Enter)"
    return text


def _hint(engine: RunEngine, step: Step) -> str:  # noqa: PLR0911 - one hint per situation
    if not engine.holding:
        return "Watching: t takes this run over (recorded)."
    status = engine.state.steps[step.id].status
    current = engine.current
    if status is StepStatus.INTERRUPTED:
        return "Interrupted, outcome unknown: check what it did, then Enter to record it."
    if current is None or current.id != step.id:
        return "Not the current step." if status is StepStatus.PENDING else ""
    if status is StepStatus.FAILED:
        return "Failed: Enter re-runs, o overrides with a reason, k skips with a reason."
    if step.kind == "manual" or engine.by_hand(step):
        need = "a note is required" if step.note == "required" else "a note is optional"
        return f"Do it, then Enter to confirm ({need})."
    if engine.read_only:
        return "Read-only: nothing runs here; k skips with a reason to follow on."
    return "Enter runs it."
