"""`lessay-console diagnose SYMPTOM`: the wizard's flow, headless.

Results print as each check ends; then the findings with what they mean, the
resolutions, and the escalation path with its contact. The session is
recorded in the journal as an incident, like a wizard session. Exit status:
2 when a check failed, 1 when one warned, 3 when one could not tell, else 0.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lessay_console.checks.model import CheckContext, CheckResult
from lessay_console.config import Config
from lessay_console.identity import Operator
from lessay_console.troubleshooting import export
from lessay_console.troubleshooting.session import Diagnosis, contact_of, findings
from lessay_console.troubleshooting.symptoms import Symptom, SymptomCatalog

if TYPE_CHECKING:
    from lessay_console.journal.store import Journal
    from lessay_console.monitor import Snapshot

Echo = Callable[[str], None]
METRIC_KINDS = frozenset({"metric", "alerts"})


class MetricsOnce:
    """The metrics collected once, on first use, for every check that asks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._snapshot: asyncio.Task[Snapshot] | None = None
        self._monitor = None

    async def __call__(self) -> Snapshot:
        if self._snapshot is None:
            from lessay_console.monitor import Monitor

            self._monitor = Monitor(self.config)
            self._snapshot = asyncio.ensure_future(self._monitor.first_snapshot())
        return await asyncio.shield(self._snapshot)

    async def aclose(self) -> None:
        if self._monitor is not None:
            await self._monitor.aclose()


async def run_diagnose(
    config: Config,
    catalog: SymptomCatalog,
    symptom: Symptom,
    *,
    journal: Journal | None,
    operator: Operator,
    read_only: bool,
    as_json: bool,
    echo: Echo,
) -> int:
    metrics = MetricsOnce(config)
    ctx = CheckContext(config=config, metrics=metrics, read_only=read_only)
    try:
        snapshot = None
        if any(c.kind in METRIC_KINDS for c in symptom.checks):
            snapshot = await metrics()  # the alerts of the moment go into the incident
        diagnosis = await Diagnosis.open(symptom, ctx, journal, operator, snapshot)
        if not as_json:
            echo(f"Diagnosing: {symptom.title} ({len(symptom.checks)} checks)")
            echo("")
        await diagnosis.run_checks(None if as_json else lambda r: echo(result_line(r)))
        if journal is not None:
            await diagnosis.escalate()
        if as_json:
            echo(json.dumps(report_json(diagnosis), indent=2, ensure_ascii=False))
        else:
            for line in report_lines(diagnosis):
                echo(line)
        return diagnosis.exit_code
    finally:
        await metrics.aclose()


def result_line(result: CheckResult) -> str:
    return (
        f"{result.status.value.upper():<7} {result.title}: {result.summary} ({result.elapsed:.2f}s)"
    )


def report_lines(diagnosis: Diagnosis) -> list[str]:
    symptom, incident = diagnosis.symptom, diagnosis.incident
    lines = [""]
    found = findings(incident, symptom)
    if found:
        lines.append("Findings")
        for result, meaning in found:
            lines.append(f"  {result.status.value.upper()} {result.title}: {result.summary}")
            lines += [f"      {line}" for line in result.detail[:12]]
            if len(result.detail) > 12:
                lines.append(f"      ... {len(result.detail) - 12} more lines")
            if meaning:
                lines.append(f"    Why it matters: {meaning}")
    else:
        lines.append("Findings: none; every check passed or could not run (see above).")
    lines += ["", "Resolution"]
    for number, resolution in enumerate(symptom.resolutions, start=1):
        lines.append(f"  {number}. {resolution.title}")
        lines += [f"     - {step}" for step in resolution.steps]
        if resolution.command:
            lines.append(f"     Action (from the console): {' '.join(resolution.command)}")
    team = symptom.escalation
    lines += ["", f"Escalation: {team}: {contact_of(diagnosis.ctx.config, team)}"]
    if symptom.escalate_when:
        lines.append(f"  Escalate when: {symptom.escalate_when}")
    if diagnosis.recorded:
        lines.append(f"\nRecorded as {incident.id}: lessay-console incident export {incident.id}")
    else:
        lines.append("\nNot recorded: the journal could not be opened (see above).")
    return lines


def report_json(diagnosis: Diagnosis) -> dict:
    symptom = diagnosis.symptom
    return {
        **export.to_json(diagnosis.incident),
        "exit_code": diagnosis.exit_code,
        "recorded": diagnosis.recorded,
        "findings": [
            {**r.to_json(), "explain": meaning}
            for r, meaning in findings(diagnosis.incident, symptom)
        ],
        "resolutions": [
            {"title": r.title, "steps": list(r.steps), "command": list(r.command) or None}
            for r in symptom.resolutions
        ],
        "escalation": {
            "team": symptom.escalation,
            "contact": contact_of(diagnosis.ctx.config, symptom.escalation),
            "when": symptom.escalate_when,
        },
    }


def open_journal(state_dir: Path, operator: Operator, warn: Echo) -> Journal | None:
    """The journal, or None (after saying why) when it cannot be opened."""
    from lessay_console.journal import Journal, JournalError, journal_path

    try:
        return Journal.open(journal_path(state_dir), operator)
    except JournalError as error:
        warn(f"lessay-console: the session is not recorded: {error}")
        return None
