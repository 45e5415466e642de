"""The `backup_freshness` check: a backup kind (or the worst of all) against the schedule.

It reads the catalog and judges it as `lessay-console backups` does
(`backups.report`): OK passes, WARN warns, CRIT fails; a catalog that cannot be
read is an error, a kind no configured source lists is skipped. The summary
names the last good backup and its age; the detail lists the reasons and gaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lessay_console.backups.command import when
from lessay_console.backups.compliance import KindReport, KindState
from lessay_console.backups.report import check_backups
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.config.durations import format_age, format_duration

STATUS = {
    KindState.OK: CheckStatus.PASS,
    KindState.WARN: CheckStatus.WARN,
    KindState.CRIT: CheckStatus.FAIL,
    KindState.UNKNOWN: CheckStatus.ERROR,
    KindState.UNWATCHED: CheckStatus.SKIPPED,
}
# which of several kinds the summary speaks of: the worst
_RANK = [KindState.UNWATCHED, KindState.OK, KindState.UNKNOWN, KindState.WARN, KindState.CRIT]

PARAMS = (
    # not "kind": that key names the check's own kind in a symptom or runbook file
    Param(
        "schedule_kind",
        "string",
        help="a schedule kind (db_hourly, db_full, ...); default: every kind",
    ),
)


async def check_backup_freshness(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    wanted = BACKUP_FRESHNESS.with_defaults(params)["schedule_kind"]
    schedule = ctx.config.backups.schedule
    if wanted is not None and wanted not in schedule:
        return Outcome.errored(f"no backup kind {wanted!r}; known: {', '.join(schedule)}")
    report = await check_backups(ctx.config, clock=ctx.clock, replication=False)
    if report.catalog_error is not None:
        if not report.catalog.reads:
            return Outcome.skipped(report.catalog_error)
        return Outcome.errored(f"cannot read the backup catalog: {report.catalog_error}")
    kinds = [report.kind(wanted)] if wanted is not None else list(report.kinds)
    worst = max(kinds, key=lambda k: _RANK.index(k.state))
    summary = _summary(worst)
    if wanted is None and len(kinds) > 1:
        counts = ", ".join(
            f"{sum(k.state is s for k in kinds)} {s.word}"
            for s in _RANK
            if any(k.state is s for k in kinds)
        )
        summary += f" ({len(kinds)} kinds: {counts})"
    detail = tuple(line for kind in kinds for line in _detail(kind))
    data = {
        "kinds": {
            k.kind: {
                "state": k.state.value,
                "last_good": k.last_good.name if k.last_good else None,
                "age_seconds": k.age,
                "missed_slots": len(k.missed_slots),
            }
            for k in kinds
        }
    }
    return Outcome(STATUS[worst.state], summary, detail, data)


def _summary(kind: KindReport) -> str:
    if kind.state is KindState.UNWATCHED:
        return f"{kind.kind}: not watched: {'; '.join(kind.reasons)}"
    if kind.last_good is None or kind.age is None:
        return f"{kind.kind}: {kind.state.word}: no good backup at all"
    return (
        f"{kind.kind}: {kind.state.word}: last good {kind.last_good.name}, "
        f"{format_age(kind.age)} ago (every {format_duration(kind.interval)})"
    )


def _detail(kind: KindReport) -> list[str]:
    lines = [f"{kind.kind}: {reason}" for reason in kind.reasons]
    for gap in kind.gaps:
        slots = ", ".join(when(slot) for slot in gap.slots[:5])
        more = f" and {len(gap.slots) - 5} more" if len(gap.slots) > 5 else ""
        lines.append(f"{kind.kind}: gap: {len(gap.slots)} missed, due {slots}{more}")
    lines += [f"{kind.kind}: past retention: {b.name}" for b in kind.past_retention]
    lines += [f"{kind.kind}: {note}" for note in kind.notes]
    return lines


BACKUP_FRESHNESS = CheckKind(
    name="backup_freshness",
    title="Backups against the schedule",
    params=PARAMS,
    timeout=90.0,
    run=check_backup_freshness,
)

KINDS: tuple[CheckKind, ...] = (BACKUP_FRESHNESS,)
