"""`lessay-console backups [--json]`: each kind against the schedule, for people or programs.

Exit status as `status`: 0 OK, 1 WARN, 2 CRIT, 3 when the catalog cannot be read.
Names and messages come from files and tools: they are shown literally, their
control characters made visible (`sanitize.printable_line`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from lessay_console.backups.catalog import Backup, SourceRead
from lessay_console.backups.compliance import Gap, KindReport, KindState
from lessay_console.backups.report import CODE_WORDS, BackupsReport, check_backups
from lessay_console.config import Config
from lessay_console.config.durations import format_age, format_duration
from lessay_console.redaction import redact
from lessay_console.sanitize import printable_line

INDENT = " " * 14  # under the value of a "  label:     " line


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def shown(text: str) -> str:
    return printable_line(redact(text))


async def run_backups(config: Config, as_json: bool, echo: Callable[[str], None]) -> int:
    """Read the catalog, judge every kind, print; the exit code."""
    report = await check_backups(config)
    if as_json:
        echo(json.dumps(to_json(report, config.environment), indent=2, allow_nan=False))
    else:
        echo(render(report, config.environment))
    return report.exit_code


# -- for people ---------------------------------------------------------------------------


def render(report: BackupsReport, environment: str) -> str:
    code = report.exit_code
    lines = [f"lessay-console backups: {CODE_WORDS[code]} · {environment} · {iso(report.at)}", ""]
    if report.catalog_error is not None:
        lines.append(f"cannot read the backup catalog: {shown(report.catalog_error)}")
        return "\n".join(lines)
    lines += _summary(report)
    for kind in report.kinds:
        lines += ["", *_kind_block(kind, report.at)]
    lines += ["", *_replication_block(report)]
    lines += ["", *(_source_line(read) for read in report.catalog.reads)]
    return "\n".join(lines)


def _summary(report: BackupsReport) -> list[str]:
    rows = [("KIND", "STATE", "AGE", "EVERY", "KEPT", "MISSED")]
    for kind in report.kinds:
        age = "-" if kind.age is None else format_age(kind.age)
        watched = kind.state is not KindState.UNWATCHED
        rows.append(
            (
                kind.kind,
                kind.state.word,
                age,
                format_duration(kind.interval),
                format_duration(kind.retention),
                str(len(kind.missed_slots)) if watched else "-",
            )
        )
    rows.append(("replication", report.replication.state.word, "", "", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _kind_block(kind: KindReport, now: float) -> Iterator[str]:
    yield (
        f"{kind.kind}: {kind.state.word} · every {format_duration(kind.interval)}, "
        f"kept {format_duration(kind.retention)}"
    )
    for reason in kind.reasons:
        yield f"  why:        {shown(reason)}"
    if kind.state is KindState.UNWATCHED:
        return
    if kind.last_good is not None and kind.age is not None:
        yield f"  last good:  {_described(kind.last_good)}"
        yield f"{INDENT}finished {when(kind.last_good.finished_at)}, {format_age(kind.age)} ago"
    yield f"  retained:   {kind.good_in_retention} good backup(s) inside the retention window"
    for gap in kind.gaps:
        yield from _gap(gap, kind.interval)
    for backup in kind.past_retention:
        age = format_age(max(0.0, now - backup.finished_at))
        yield f"  past retention: {shown(backup.name)} ({age} old)"
    for note in kind.notes:
        yield f"  note:       {shown(note)}"


def _described(backup: Backup) -> str:
    if backup.source == "directory":
        return shown(backup.name)
    # a tool's label says less than a file name: say whose, and of which type
    detail = f", {backup.backup_type}" if backup.backup_type else ""
    return f"{shown(backup.name)} ({backup.source}{detail})"


def _gap(gap: Gap, interval: float) -> Iterator[str]:
    """The missed slots of one gap: a regular run, one every interval after a backup."""
    count = len(gap.slots)
    if count == 1:
        yield f"  gap:        1 slot missed, due {when(gap.slots[0])}"
    else:
        yield f"  gap:        {count} slots missed, one every {format_duration(interval)},"
        yield f"{INDENT}due from {when(gap.slots[0])} to {when(gap.slots[-1])}"
    after = "the window's start" if gap.after is None else when(gap.after)
    before = "now" if gap.before is None else when(gap.before)
    yield f"{INDENT}no backup between {after} and {before}"


def _replication_block(report: BackupsReport) -> Iterator[str]:
    replication = report.replication
    yield f"replication: {replication.state.word} · {shown(replication.summary)}"
    for reason in replication.reasons:
        yield f"  why:        {shown(reason)}"


def _source_line(read: SourceRead) -> str:
    if read.error is not None:
        return f"catalog: {shown(read.source)}: cannot be read: {shown(read.error)}"
    line = f"catalog: {shown(read.source)}: {len(read.backups)} backup(s) listed"
    if read.ignored:
        line += f", {read.ignored} other file(s) ignored"
    return "\n".join([line, *(f"  problem: {shown(p)}" for p in read.problems)])


# -- for programs -------------------------------------------------------------------------


def to_json(report: BackupsReport, environment: str) -> dict[str, Any]:
    code = report.exit_code
    return {
        "at": iso(report.at),
        "environment": environment,
        "status": CODE_WORDS[code],
        "exit_code": code,
        "error": report.catalog_error,
        "kinds": [_kind_json(kind, report.at) for kind in report.kinds],
        "replication": report.replication.to_json(),
        "sources": [
            {
                "source": read.source,
                "ok": read.ok,
                "error": read.error,
                "problems": list(read.problems),
                "backups": len(read.backups),
                "ignored": read.ignored,
                "kinds": sorted(read.kinds),
            }
            for read in report.catalog.reads
        ],
    }


def _kind_json(kind: KindReport, now: float) -> dict[str, Any]:
    last = None
    if kind.last_good is not None:
        last = {
            **kind.last_good.to_json(),
            "finished": iso(kind.last_good.finished_at),
            "age_seconds": kind.age,
        }
    return {
        "kind": kind.kind,
        "state": kind.state.value,
        "exit_code": kind.state.exit_code,
        "reasons": list(kind.reasons),
        "interval_seconds": kind.interval,
        "retention_seconds": kind.retention,
        "last_good": last,
        "good_in_retention": kind.good_in_retention,
        "missed_slots": len(kind.missed_slots),
        "gaps": [
            {
                "after": iso(gap.after),
                "before": iso(gap.before),
                "slots": [iso(slot) for slot in gap.slots],
            }
            for gap in kind.gaps
        ],
        "past_retention": [
            {"name": b.name, "finished": iso(b.finished_at), "age_seconds": now - b.finished_at}
            for b in kind.past_retention
        ],
        "not_good": [{"name": b.name, "why_not": b.why_not} for b in kind.not_good],
        "future": [{"name": b.name, "finished": iso(b.finished_at)} for b in kind.future],
        "notes": list(kind.notes),
    }
