"""`lessay-console runbook runs | export`: recorded runs read back from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lessay_console.config import Config
from lessay_console.journal.lookup import open_existing_journal, recorded_stream
from lessay_console.runbooks import export
from lessay_console.runbooks.engine import holder_alive
from lessay_console.runbooks.model import Runbook
from lessay_console.runbooks.state import STREAM_PREFIX, RunState, outline_runbook
from lessay_console.troubleshooting.export import iso

if TYPE_CHECKING:
    from lessay_console.journal.store import Event

Echo = Callable[[str], None]


def definition_for(events: list[Event], runbooks: list[Runbook]) -> Runbook:
    """The runbook a run followed: the loaded one by id, else the outline it recorded."""
    runbook_id = events[0].data["runbook"]
    found = next((r for r in runbooks if r.id == runbook_id), None)
    outline = outline_runbook(events)
    if found is None or {s.id for s in found.steps} != {s.id for s in outline.steps}:
        return outline
    return found


def run_line(runbook: Runbook, state: RunState, here: str) -> str:
    done, total = state.progress()
    if state.finished:
        where = state.finished
    else:
        current = state.current(runbook)
        step = runbook.step(current).title if current else "-"
        holder = state.holder
        held = (
            f"held by {holder.describe()}"
            if holder and not state.released and holder_alive(holder, here)
            else "not held: resume it"
        )
        where = f"at {step!r}, {held}"
    return (
        f"{state.id.removeprefix(STREAM_PREFIX)}  {iso(state.started_at)}  {state.started_by:<10} "
        f"{state.title}  {done}/{total}  {where}"
    )


def list_runs(state_dir: Path | None, config: Config, echo: Echo, err: Echo) -> int:
    import socket

    from lessay_console.runbooks.loader import load_runbooks

    journal = open_existing_journal(state_dir, err)
    if journal is None:
        return 3
    runbooks, _ = load_runbooks(config)
    with journal:
        summaries = journal.streams(STREAM_PREFIX)
        if not summaries:
            echo("no runs recorded")
        for summary in summaries:
            events = journal.events(summary.stream)
            runbook = definition_for(events, runbooks)
            echo(run_line(runbook, RunState.from_events(runbook, events), socket.gethostname()))
    return 0


def export_run(
    state_dir: Path | None, config: Config, run_id: str, fmt: str, echo: Echo, err: Echo
) -> int:
    from lessay_console.runbooks.loader import load_runbooks

    events = recorded_stream(
        state_dir, STREAM_PREFIX, run_id, "run", "lessay-console runbook runs", err
    )
    if isinstance(events, int):
        return events
    runbooks, _ = load_runbooks(config)
    runbook = definition_for(events, runbooks)
    state = RunState.from_events(runbook, events)
    echo(export.dumps(runbook, state) if fmt == "json" else export.to_markdown(runbook, state))
    return 0
