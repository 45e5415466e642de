"""Each backup kind against its schedule: the last good backup, gaps, retention, a state.

Pure functions of the catalog, the schedule and `now` (UTC epoch seconds: a
daylight-saving change, which moves local clocks, moves nothing here).

The rules, per kind with interval I and retention R:

* **last good backup**: the newest good one not dated in the future. A backup
  dated more than `FUTURE_TOLERANCE` after now (a clock off on the host that
  wrote it) is noted and not counted: it must not look fresh for hours.
* **gaps**: a backup is due one interval after the last; it is missed when
  none came within half an interval after that (`SLOT_TOLERANCE`), then the
  next is due an interval later. A gap lists each missed slot inside the
  retention window (now - R, now], including the slots missed since the last
  backup. Before the oldest backup, slots are counted only where they lie more
  than half an interval inside the window (older ones were pruned, as they should).
* **past retention**: a backup older than R plus one interval (the pruning
  job's own period) still present means retention is not enforced.
* **state**: CRIT when there is no good backup, or the last is older than
  3 x I; WARN when it is older than 1.5 x I, when a slot inside retention was
  missed, or when retention is not enforced; OK otherwise. UNKNOWN when a source
  of the kind could not be read; UNWATCHED when no configured source lists it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from lessay_console.backups.catalog import Backup, Catalog
from lessay_console.config.durations import format_age, format_duration
from lessay_console.config.model import BackupKind

STALE_FACTOR = 1.5  # the last good backup older than this many intervals: WARN
CRIT_FACTOR = 3.0  # older than this many intervals (or none at all): CRIT
SLOT_TOLERANCE = 0.5  # a due backup is missed once this much of an interval passed without it
FUTURE_TOLERANCE = 300.0  # seconds a backup may be dated ahead of now (clocks differ a little)


class KindState(StrEnum):
    OK = "ok"
    WARN = "warn"
    CRIT = "crit"
    UNKNOWN = "unknown"  # a source of the kind could not be read
    UNWATCHED = "unwatched"  # no configured source lists the kind

    @property
    def word(self) -> str:
        return {"unwatched": "NOT WATCHED"}.get(self.value, self.value.upper())

    @property
    def exit_code(self) -> int:
        """Nagios, as `status`: 0 OK, 1 warning, 2 critical, 3 unknown; unwatched is OK."""
        return {"warn": 1, "crit": 2, "unknown": 3}.get(self.value, 0)


@dataclass(frozen=True)
class Gap:
    """Missed slots between two backups (or the window's start, or now)."""

    after: float | None  # finish of the backup before the gap; None: none before it
    before: float | None  # finish of the backup that ended it; None: still open at now
    slots: tuple[float, ...]  # when each missed backup was due


@dataclass(frozen=True)
class KindReport:
    """One schedule kind against its schedule, at `now`."""

    kind: str
    interval: float
    retention: float
    state: KindState
    reasons: tuple[str, ...]  # why the state is not OK
    last_good: Backup | None
    age: float | None  # of the last good backup, seconds
    good_in_retention: int
    gaps: tuple[Gap, ...] = ()
    past_retention: tuple[Backup, ...] = ()
    not_good: tuple[Backup, ...] = ()  # listed but not good, inside retention
    future: tuple[Backup, ...] = ()  # dated beyond now + FUTURE_TOLERANCE, not counted
    notes: tuple[str, ...] = ()

    @property
    def missed_slots(self) -> tuple[float, ...]:
        return tuple(slot for gap in self.gaps for slot in gap.slots)


def find_gaps(
    finished: Iterable[float], interval: float, window_start: float, now: float
) -> list[Gap]:
    """The missed slots inside (window_start, now] of a kind whose good backups finished
    at `finished` (see the module docstring for the rule)."""
    times = sorted(min(t, now) for t in finished)  # a little ahead (clocks differ): now
    if interval <= 0:
        return []
    before_window = bisect.bisect_left(times, window_start)
    anchor = times[before_window - 1] if before_window else None
    inside = times[before_window:]
    gaps: list[Gap] = []
    if anchor is None:
        first = inside[0] if inside else now
        leading = _slots_back_from(first, interval, window_start)
        if leading:
            gaps.append(Gap(None, inside[0] if inside else None, leading))
        if not inside:
            return gaps
    points = ([anchor] if anchor is not None else []) + inside
    for after, before in zip(points, [*points[1:], None], strict=True):
        end = now if before is None else before
        slots = tuple(s for s in _slots_between(after, end, interval) if s >= window_start)
        if slots:
            gaps.append(Gap(after, before, slots))
    return gaps


def _slots_between(after: float, end: float, interval: float) -> list[float]:
    """Slots due after a backup at `after` and missed by `end`."""
    slots, k = [], 1
    while after + (k + SLOT_TOLERANCE) * interval < end:
        slots.append(after + k * interval)
        k += 1
    return slots


def _slots_back_from(first: float, interval: float, window_start: float) -> tuple[float, ...]:
    """Slots before the oldest backup that lie well inside the window, oldest first."""
    slots, k = [], 1
    while first - (k + SLOT_TOLERANCE) * interval >= window_start:
        slots.append(first - k * interval)
        k += 1
    return tuple(reversed(slots))


def assess_kind(kind: str, schedule: BackupKind, catalog: Catalog, now: float) -> KindReport:
    """The state of one kind; see the module docstring for the rules."""
    interval, retention = schedule.interval, schedule.retention
    if not catalog.covers(kind):  # nothing to judge: no gaps, no age, only why
        reason = ("no configured catalog source lists this kind",)
        return KindReport(kind, interval, retention, KindState.UNWATCHED, reason, None, None, 0)
    backups = catalog.of_kind(kind)
    window_start = now - retention
    future = tuple(b for b in backups if b.finished_at > now + FUTURE_TOLERANCE)
    present = [b for b in backups if b.finished_at <= now + FUTURE_TOLERANCE]
    good = [b for b in present if b.good]
    last = max(good, key=lambda b: b.finished_at, default=None)
    age = None if last is None else max(0.0, now - last.finished_at)
    gaps = tuple(find_gaps((b.finished_at for b in good), interval, window_start, now))
    past = tuple(b for b in present if b.finished_at < window_start - interval)
    not_good = tuple(b for b in present if not b.good and b.finished_at >= window_start)
    base = KindReport(
        kind,
        interval,
        retention,
        KindState.OK,
        (),
        last,
        age,
        sum(1 for b in good if b.finished_at >= window_start),
        gaps,
        past,
        not_good,
        future,
        _notes(future, not_good, now),
    )
    state, reasons = _judge(base, interval, retention)
    unread = catalog.unread(kind)
    if unread:
        state = KindState.UNKNOWN
        reasons = [f"{read.source} could not be read: {read.error}" for read in unread] + reasons
    return _with(base, state, reasons)


def _judge(report: KindReport, interval: float, retention: float) -> tuple[KindState, list[str]]:
    every = format_duration(interval)
    if report.last_good is None or report.age is None:
        return KindState.CRIT, ["no good backup at all"]
    reasons, state = [], KindState.OK
    age = format_age(report.age)
    if report.age > CRIT_FACTOR * interval:
        return KindState.CRIT, [f"last good backup {age} old: none within 3 x {every}"]
    if report.age > STALE_FACTOR * interval:
        state = KindState.WARN
        reasons.append(f"last good backup {age} old: older than 1.5 x {every}")
    # slots missed since the last backup are its age, said above; these are the earlier ones
    count = sum(len(gap.slots) for gap in report.gaps if gap.before is not None)
    if count:
        state = KindState.WARN
        reasons.append(
            f"{count} missed slot{'s' if count != 1 else ''} "
            f"inside the {format_duration(retention)} retention"
        )
    if report.past_retention:
        state = KindState.WARN
        count = len(report.past_retention)
        reasons.append(
            f"retention not enforced: {count} backup{'s' if count != 1 else ''} "
            f"older than {format_duration(retention)} still present"
        )
    return state, reasons


def _notes(future: Sequence[Backup], not_good: Sequence[Backup], now: float) -> tuple[str, ...]:
    notes = []
    if future:
        ahead = max(b.finished_at for b in future) - now
        notes.append(
            f"{len(future)} backup(s) dated up to {format_age(ahead)} in the future "
            "(a clock off on the host that wrote them?): not counted"
        )
    for backup in not_good:
        notes.append(f"{backup.name} is not good: {backup.why_not}")
    return tuple(notes)


def _with(report: KindReport, state: KindState, reasons: list[str]) -> KindReport:
    return replace(report, state=state, reasons=tuple(reasons))


def assess(schedule: dict[str, BackupKind], catalog: Catalog, now: float) -> list[KindReport]:
    """Every kind of the schedule, in the schedule's order."""
    return [assess_kind(kind, entry, catalog, now) for kind, entry in schedule.items()]
