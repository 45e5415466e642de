"""A run as a change record: who did what and when, each step with its result.

Made from the journal's events alone; texts are redacted and made printable
again here (an export is read with `cat` as often as in a renderer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckResult
from lessay_console.redaction import redact
from lessay_console.runbooks.model import Runbook
from lessay_console.runbooks.resolve import shell_join
from lessay_console.runbooks.state import STREAM_PREFIX, RunState, StepState
from lessay_console.sanitize import printable_line, scrub
from lessay_console.troubleshooting.export import exported_event, fenced, iso

if TYPE_CHECKING:
    from lessay_console.journal.store import Event


def who(event: Event) -> str:
    where = f" from {event.ssh_client}" if event.ssh_client else ""
    return f"{event.operator}@{event.host}{where}"


def to_json(runbook: Runbook, state: RunState) -> dict[str, Any]:
    return scrub(
        {
            "run": state.id,
            "runbook": state.runbook_id,
            "title": state.title,
            "digest": state.digest,
            "definition_changed": bool(runbook.digest and state.digest != runbook.digest),
            "params": state.params,
            "environment": state.environment,
            "read_only": state.read_only,
            "started_at": iso(state.started_at),
            "started_by": state.started_by,
            "finished": state.finished,
            "finished_at": iso(state.finished_at) if state.finished_at else None,
            "steps": [
                {
                    "id": step.id,
                    "phase": runbook.phase_of(step.id).title,
                    "title": step.title,
                    "kind": step.kind,
                    "status": state.steps[step.id].status.value,
                    "outcome": state.steps[step.id].outcome,
                    "by": state.steps[step.id].by,
                    "note": state.steps[step.id].note,
                    "started_at": _iso_or_none(state.steps[step.id].started_at),
                    "ended_at": _iso_or_none(state.steps[step.id].ended_at),
                    "checks": _all_checks(state.steps[step.id]),
                    "output": "\n".join(_all_output(state.steps[step.id])),
                }
                for step in runbook.steps
            ],
            "events": [exported_event(e) for e in state.events],
        }
    )


def dumps(runbook: Runbook, state: RunState) -> str:
    return json.dumps(to_json(runbook, state), indent=2, ensure_ascii=False, allow_nan=False)


def to_markdown(runbook: Runbook, state: RunState) -> str:
    done, total = state.progress()
    finished = f"{state.finished} at {iso(state.finished_at)}" if state.finished else "unfinished"
    params = ", ".join(f"{k} = {v}" for k, v in state.params.items()) or "none"
    out = [
        f"# Change record: {_inline(state.title)}",
        "",
        f"- Run: `{state.id.removeprefix(STREAM_PREFIX)}`",
        f"- Environment: {_inline(state.environment)}"
        + (" (read-only: nothing executed)" if state.read_only else ""),
        f"- Parameters: {_inline(params)}",
        f"- Started: {iso(state.started_at)} by {_inline(state.started_by)}",
        f"- State: {finished}; {done}/{total} steps settled",
    ]
    if runbook.digest and state.digest != runbook.digest:
        out.append("- Note: the runbook's definition changed since this run started")
    out.append("")
    for phase in runbook.phases:
        out += [f"## {_inline(phase.title)}", ""]
        for step in phase.steps:
            out += _step_lines(step.title, state.steps[step.id])
    if state.notes:
        out += ["## Notes", ""]
        out += [f"- {iso(e.at)} {_inline(who(e))}: {_inline(e.data['text'])}" for e in state.notes]
        out.append("")
    out += ["## Timeline", ""]
    out += [f"- {iso(e.at)} {_inline(who(e))}: {e.kind}{_gist(e)}" for e in state.events]
    return "\n".join(out).rstrip() + "\n"


def _step_lines(title: str, step: StepState) -> list[str]:
    lines = [f"### {_inline(title)}: {step.status.value.upper()}", ""]
    if step.by:
        when = iso(step.ended_at) if step.ended_at else iso(step.started_at)
        lines.append(f"- By {_inline(step.by)} at {when}")
    if step.outcome:
        lines.append(f"- Result: {_inline(step.outcome)}")
    if step.note:
        lines.append(f"- Note: {_inline(step.note)}")
    # every attempt and every rollout stage, in order (the state keeps the last one's only);
    # a stage's verification is recorded before the stage's end: listed under it
    checks: list[str] = []
    for event in step.events:
        argv = event.data.get("argv")
        if argv and event.kind == "rollout.stage":
            stage = f"{event.data['percent']:g}% {event.data['state']}"
            command = _inline(shell_join(argv))
            lines.append(f"- Stage {stage}: `{command}` exit {event.data.get('exit_code')}")
            lines += [f"  {line}" for line in checks]
            checks = []
        elif argv and event.kind in ("step.completed", "step.failed", "rollout.rolled_back"):
            lines.append(
                f"- Command: `{_inline(shell_join(argv))}` exit {event.data.get('exit_code')}"
            )
        elif event.kind == "step.check":
            result = CheckResult.from_json(event.data["result"])
            word = result.status.value.upper()
            checks.append(f"- Check {word} {_inline(result.title)}: {_inline(result.summary)}")
    lines += checks
    output = _all_output(step)
    if output:
        lines += ["", *fenced("\n".join(output).splitlines())]
    lines.append("")
    return lines


def _all_output(step: StepState) -> list[str]:
    """What the step's commands printed, every attempt and stage (`step.output` keeps the
    current attempt's only)."""
    return [e.data.get("text", "") for e in step.events if e.kind == "step.output"]


def _all_checks(step: StepState) -> list[dict[str, Any]]:
    return [e.data["result"] for e in step.events if e.kind == "step.check"]


def _gist(event: Event) -> str:
    data = event.data
    for key in ("outcome", "reason", "text", "note"):
        if data.get(key):
            return f" ({_inline(str(data[key]))[:160]})"
    if event.kind == "rollout.stage":
        return f" ({data['percent']:g}% {data['state']})"
    return f" ({data['step']})" if "step" in data else ""


def _inline(text: str) -> str:
    return printable_line(redact(text))


def _iso_or_none(t: float | None) -> str | None:
    return iso(t) if t is not None else None
