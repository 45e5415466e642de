"""Each kind against its schedule on synthetic timelines: gaps, age, retention, clock skew, DST."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lessay_console.backups.catalog import Backup, Catalog, failed, listed
from lessay_console.backups.command import render
from lessay_console.backups.compliance import (
    FUTURE_TOLERANCE,
    KindState,
    assess,
    assess_kind,
    find_gaps,
)
from lessay_console.backups.replication import ReplicationReport
from lessay_console.backups.report import BackupsReport
from lessay_console.config.defaults import BACKUP_SCHEDULE
from lessay_console.config.model import BackupKind

HOUR, DAY = 3600.0, 86400.0
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC).timestamp()
HOURLY = BACKUP_SCHEDULE["db_hourly"]  # every hour, kept 7 days
ALL_KINDS = frozenset(BACKUP_SCHEDULE)


def hourly(
    start: float, count: int, *, skip: Iterable[int] = (), good: bool = True
) -> list[Backup]:
    """`count` hourly backups finishing at start, start + 1 h, ...; `skip` leaves some out."""
    left_out = set(skip)
    return [
        Backup("db_hourly", f"h{index:04d}", start + index * HOUR, 1000, good=good)
        for index in range(count)
        if index not in left_out
    ]


def catalog_of(*backups: Backup) -> Catalog:
    return Catalog((listed("directory", ALL_KINDS, backups),))


def week_until(now: float, **kwargs: object) -> list[Backup]:
    """A week of hourly backups, the newest 10 minutes before `now`."""
    return hourly(now - 10 * 60 - 167 * HOUR, 168, **kwargs)  # type: ignore[arg-type]


def test_a_full_week_of_hourly_backups_is_ok() -> None:
    report = assess_kind("db_hourly", HOURLY, catalog_of(*week_until(NOW)), NOW)
    assert report.state is KindState.OK and report.reasons == ()
    assert report.gaps == () and report.good_in_retention == 168
    assert report.last_good is not None and report.age == 600


def test_one_missing_hour_is_a_warning_naming_its_slot() -> None:
    backups = week_until(NOW, skip=[162])  # the one due about 5 h ago
    report = assess_kind("db_hourly", HOURLY, catalog_of(*backups), NOW)
    assert report.state is KindState.WARN
    assert report.reasons == ("1 missed slot inside the 7d retention",)
    (gap,) = report.gaps
    due = NOW - 10 * 60 - 5 * HOUR
    assert gap.slots == (due,)
    assert (gap.after, gap.before) == (due - HOUR, due + HOUR)


def test_three_missing_hours_are_three_slots() -> None:
    report = assess_kind(
        "db_hourly", HOURLY, catalog_of(*week_until(NOW, skip=[100, 101, 102])), NOW
    )
    assert len(report.missed_slots) == 3 and len(report.gaps) == 1


@pytest.mark.parametrize(
    ("age_hours", "state"),
    [(1.2, KindState.OK), (1.6, KindState.WARN), (2.9, KindState.WARN), (3.1, KindState.CRIT)],
)
def test_the_age_of_the_last_good_backup(age_hours: float, state: KindState) -> None:
    last = NOW - age_hours * HOUR
    count = int(48.4 - age_hours)  # back to the start of the 2-day window, no further
    backups = hourly(last - count * HOUR, count + 1)
    report = assess_kind("db_hourly", BackupKind(HOUR, 2 * DAY), catalog_of(*backups), NOW)
    assert report.state is state, report.reasons
    age = f"{int(age_hours)}h{round(age_hours % 1 * 60):02d}m"
    expected = {
        KindState.OK: (),
        KindState.WARN: (f"last good backup {age} old: older than 1.5 x 1h",),
        KindState.CRIT: (f"last good backup {age} old: none within 3 x 1h",),
    }
    assert report.reasons == expected[state]


def test_no_backup_at_all_and_only_bad_ones_are_critical() -> None:
    for catalog in (catalog_of(), catalog_of(*hourly(NOW - 5 * HOUR, 5, good=False))):
        report = assess_kind("db_hourly", HOURLY, catalog, NOW)
        assert report.state is KindState.CRIT
        assert report.reasons == ("no good backup at all",)
        assert report.last_good is None


def test_a_failed_backup_leaves_its_slot_missed_and_is_noted() -> None:
    backups = week_until(NOW)
    backups[-3] = Backup("db_hourly", "bad", backups[-3].finished_at, 0, good=False, why_not="x")
    report = assess_kind("db_hourly", HOURLY, catalog_of(*backups), NOW)
    assert report.state is KindState.WARN
    assert len(report.missed_slots) == 1
    assert [b.name for b in report.not_good] == ["bad"]
    assert "bad is not good: x" in report.notes


def test_backups_kept_past_retention_mean_retention_is_not_enforced() -> None:
    backups = hourly(NOW - 10 * 60 - 200 * HOUR, 201)  # 200 h: over a week
    report = assess_kind("db_hourly", HOURLY, catalog_of(*backups), NOW)
    assert report.state is KindState.WARN
    # older than the 7 days and the hour the pruning may take: 31 h 10 min of them
    assert len(report.past_retention) == 32
    assert report.reasons == ("retention not enforced: 32 backups older than 7d still present",)
    assert report.gaps == ()


def test_pruned_history_is_no_gap_but_a_short_one_is() -> None:
    # pruned exactly at retention: the oldest slot may be just gone
    assert not find_gaps(
        [NOW - 167.6 * HOUR + i * HOUR for i in range(168)], HOUR, NOW - 168 * HOUR, NOW
    )
    # the schedule began two days ago: the five days before are missed slots
    two_days = [NOW - 48 * HOUR + i * HOUR for i in range(48)]
    (leading,) = find_gaps(two_days, HOUR, NOW - 168 * HOUR, NOW)
    assert leading.after is None and leading.before == two_days[0]
    assert len(leading.slots) == 119 and leading.slots[-1] == two_days[0] - HOUR


class TestClockSkew:
    def test_a_backup_dated_hours_ahead_is_noted_and_not_counted(self) -> None:
        backups = [*hourly(NOW - 24 * HOUR, 21), Backup("db_hourly", "future", NOW + 2 * HOUR)]
        report = assess_kind("db_hourly", HOURLY, catalog_of(*backups), NOW)
        assert report.last_good is not None and report.last_good.name == "h0020"
        assert report.age == 4 * HOUR and report.state is KindState.CRIT  # not made fresh
        assert [b.name for b in report.future] == ["future"]
        assert report.notes[0].startswith("1 backup(s) dated up to 2h00m in the future")

    def test_a_backup_a_little_ahead_counts_as_just_made(self) -> None:
        backups = [*hourly(NOW - 24 * HOUR, 24), Backup("db_hourly", "ahead", NOW + 60)]
        report = assess_kind("db_hourly", BackupKind(HOUR, DAY), catalog_of(*backups), NOW)
        assert report.last_good is not None and report.last_good.name == "ahead"
        assert report.age == 0 and report.future == ()
        assert report.state is KindState.OK

    def test_the_tolerance_is_the_edge(self) -> None:
        edge = Backup("db_hourly", "edge", NOW + FUTURE_TOLERANCE + 1)
        report = assess_kind("db_hourly", HOURLY, catalog_of(edge), NOW)
        assert report.future == (edge,) and report.state is KindState.CRIT


class TestDaylightSaving:
    """Europe/Berlin changed clocks on 2025-03-30 (02:00 -> 03:00) and 2025-10-26 (03:00 ->
    02:00). The judgement is in UTC epoch seconds: neither change makes a gap or a double."""

    BERLIN = ZoneInfo("Europe/Berlin")

    @pytest.fixture(autouse=True)
    def berlin_local_time(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("TZ", "Europe/Berlin")  # nothing may read the local zone
        time.tzset()
        yield
        monkeypatch.undo()
        time.tzset()

    def hourly_across(self, day: datetime) -> tuple[list[Backup], float]:
        """Hourly backups at :05 past every real hour from a day before to a day after."""
        start = (day - timedelta(days=1)).timestamp()
        return hourly(start, 48), start + 47 * HOUR + 600

    @pytest.mark.parametrize("change", [datetime(2025, 3, 30, 0, 5), datetime(2025, 10, 26, 0, 5)])
    def test_hourly_backups_across_a_change_have_no_gap(self, change: datetime) -> None:
        backups, now = self.hourly_across(change.replace(tzinfo=self.BERLIN))
        local = [datetime.fromtimestamp(b.finished_at, self.BERLIN).hour for b in backups]
        # on the local clock an hour is skipped in spring and doubled in autumn
        assert (2 not in local[24:30]) if change.month == 3 else (local[24:30].count(2) == 2)
        report = assess_kind("db_hourly", BackupKind(HOUR, 2 * DAY), catalog_of(*backups), now)
        assert report.state is KindState.OK and report.gaps == (), report.reasons

    @pytest.mark.parametrize("month", [3, 10])
    def test_a_daily_backup_at_a_fixed_local_hour_has_no_gap(self, month: int) -> None:
        # cron at 03:30 local: 23 h apart over the spring change, 25 h over the autumn one
        days = [datetime(2025, month, day, 3, 30, tzinfo=self.BERLIN) for day in range(22, 32)]
        backups = [Backup("db_full", f"d{d.day}", d.timestamp()) for d in days]
        spacing = {
            round((b.finished_at - a.finished_at) / HOUR) for a, b in itertools.pairwise(backups)
        }
        assert spacing == {24, 23 if month == 3 else 25}
        now = backups[-1].finished_at + 3600
        report = assess_kind("db_full", BackupKind(DAY, 10 * DAY), catalog_of(*backups), now)
        assert report.state is KindState.OK and report.gaps == ()

    def test_times_are_shown_in_utc_whatever_the_local_zone(self) -> None:
        backups = week_until(NOW, skip=[162])
        kinds = tuple(assess(BACKUP_SCHEDULE, catalog_of(*backups), NOW))
        replication = ReplicationReport(KindState.UNWATCHED, "not watched", 30)
        text = render(BackupsReport(NOW, catalog_of(*backups), kinds, replication), "test")
        assert "1 slot missed, due 2025-03-03 06:50 UTC" in text


def test_a_failed_source_makes_its_kinds_unknown_and_others_are_unwatched() -> None:
    catalog = Catalog(
        (
            listed("directory", {"files_incremental"}, hourly(NOW - 2 * HOUR, 2)),
            failed("pgbackrest stanza main", {"db_full", "db_hourly"}, "exited 55"),
        )
    )
    states = {r.kind: r.state for r in assess(BACKUP_SCHEDULE, catalog, NOW)}
    assert states == {
        "db_hourly": KindState.UNKNOWN,
        "db_full": KindState.UNKNOWN,
        "files_incremental": KindState.CRIT,  # the directory lists no files backup
        "config_export": KindState.UNWATCHED,
    }
    db_full = assess_kind("db_full", BACKUP_SCHEDULE["db_full"], catalog, NOW)
    assert db_full.reasons[0] == "pgbackrest stanza main could not be read: exited 55"
