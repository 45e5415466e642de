"""Properties of the gap finder, on timelines hypothesis makes up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lessay_console.backups.compliance import SLOT_TOLERANCE, find_gaps

DAY = 86_400


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[int], set[int], int, int, int]:
    """A backup every `interval` (jittered by under a quarter of it) from before the
    window's start to now, some of them missed: (times, missed indexes, interval, start, now)."""
    interval = draw(st.integers(min_value=60, max_value=7 * DAY))
    count = draw(st.integers(min_value=3, max_value=60))
    base = draw(st.integers(min_value=0, max_value=2_000_000_000))
    jitter = draw(
        st.lists(
            st.integers(min_value=-(interval // 4) + 1, max_value=interval // 4 - 1),
            min_size=count,
            max_size=count,
        )
    )
    # the first and the last are kept: a gap between two backups, not at the edges
    missed = draw(st.sets(st.integers(min_value=1, max_value=count - 2)))
    times = [base + i * interval + jitter[i] for i in range(count) if i not in missed]
    window_start = base + interval // 2  # the first backup is older than the window
    now = base + (count - 1) * interval + jitter[-1] + draw(st.integers(0, interval - 1))
    return times, missed, interval, window_start, now


@given(schedules())
@settings(max_examples=300)
def test_exactly_the_missed_backups_are_found(case: tuple) -> None:
    times, missed, interval, window_start, now = case
    slots = [slot for gap in find_gaps(times, interval, window_start, now) for slot in gap.slots]
    assert len(slots) == len(missed)
    base = window_start - interval // 2
    for index in missed:
        due = base + index * interval
        assert sum(abs(slot - due) < interval / 2 for slot in slots) == 1


@given(schedules(), st.integers(min_value=-(10**9), max_value=10**9))
def test_moving_the_whole_timeline_moves_the_gaps(case: tuple, shift: int) -> None:
    times, _, interval, window_start, now = case
    before = find_gaps(times, interval, window_start, now)
    after = find_gaps([t + shift for t in times], interval, window_start + shift, now + shift)
    assert [tuple(s + shift for s in gap.slots) for gap in before] == [gap.slots for gap in after]


@given(schedules(), st.randoms(use_true_random=False))
def test_the_order_of_the_catalog_does_not_matter(case: tuple, rng) -> None:
    times, _, interval, window_start, now = case
    shuffled = list(times)
    rng.shuffle(shuffled)
    assert find_gaps(shuffled, interval, window_start, now) == find_gaps(
        times, interval, window_start, now
    )


timelines = st.tuples(
    st.lists(st.integers(min_value=0, max_value=30 * DAY), max_size=40),
    st.integers(min_value=60, max_value=2 * DAY),
    st.integers(min_value=0, max_value=20 * DAY),
    st.integers(min_value=0, max_value=10 * DAY),
)


@given(timelines)
@settings(max_examples=300)
def test_every_slot_is_inside_the_window_with_no_backup_near_it(case: tuple) -> None:
    times, interval, window_start, span = case
    now = window_start + span
    for gap in find_gaps(times, interval, window_start, now):
        for slot in gap.slots:
            assert window_start <= slot <= now
            near = [t for t in times if abs(min(t, now) - slot) < SLOT_TOLERANCE * interval]
            assert near == []


@given(timelines, st.integers(min_value=0, max_value=10 * DAY))
@settings(max_examples=300)
def test_a_backup_more_inside_the_window_never_adds_a_missed_slot(case: tuple, offset: int) -> None:
    times, interval, window_start, span = case
    now = window_start + span
    added = window_start + offset % (span + 1)

    def missed(ts: list[int]) -> int:
        return sum(len(gap.slots) for gap in find_gaps(ts, interval, window_start, now))

    assert missed([*times, added]) <= missed(times)
