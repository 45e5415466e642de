"""The metric store: Prometheus's selection rules, the fast range summary, bounded memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lessay_console.promql import summarize
from lessay_console.samples import STALE, is_stale
from lessay_console.store import History, MetricStore, Series

values = st.one_of(st.floats(0, 1e6, allow_nan=False), st.just(STALE))


@st.composite
def series_and_window(draw):
    steps = draw(st.lists(st.tuples(st.floats(0.01, 30), values), min_size=0, max_size=60))
    series, t = Series(), 0.0
    for gap, value in steps:
        t += gap
        series.append(t, value)
    start = draw(st.floats(-10, t + 10))
    end = draw(st.floats(start, t + 20))
    return series, start, end


@given(series_and_window())
@settings(max_examples=400)
def test_the_fast_summary_equals_the_summary_of_the_window(case) -> None:
    series, start, end = case
    assert series.summary(start, end) == summarize(series.window(start, end))


def test_latest_follows_the_lookback_and_staleness_markers() -> None:
    series = Series()
    for t, v in ((0, 1.0), (10, 2.0), (20, STALE), (30, 3.0)):
        series.append(t, v)
    assert series.latest(5, 300) == (0, 1.0)
    assert series.latest(15, 300) == (10, 2.0)
    assert series.latest(25, 300) is None  # a staleness marker ends the series at once
    assert series.latest(35, 300) == (30, 3.0)
    assert series.latest(329.9, 300) == (30, 3.0)
    assert series.latest(330, 300) is None  # a sample exactly as old as the lookback is out
    assert series.window(0, 30) == [(10, 2.0), (30, 3.0)]  # (start, end], markers left out


def test_out_of_order_samples_are_dropped_and_same_time_replaces() -> None:
    series = Series()
    series.append(10, 1.0)
    series.append(5, 9.0)
    series.append(10, 2.0)
    assert list(series.times) == [10] and list(series.values) == [2.0]
    assert not is_stale(series.values[0])


def test_memory_is_bounded_by_the_retention() -> None:
    store = MetricStore(retention=100)
    for t in range(10_000):
        store.append("x", (), float(t), float(t))
        if t % 10 == 0:
            store.prune(float(t))
    assert store.sample_count() <= 2 * 100 + 10
    store.append("gone", (), 0.0, 1.0)
    store.prune(10_000.0)
    assert "gone" not in store.names()


def test_history_keeps_a_day_of_minutes_and_an_hour_raw() -> None:
    history = History()
    for t in range(0, 2 * 86400, 1):
        history.add(float(t), float(t % 600))
    assert history.slots == 24 * 60  # a fixed ring, allocated up front
    assert len(history.raw) <= 2 * 3600 + 1
    now = 2 * 86400 - 1.0
    recent = history.points(now - 300, now)
    assert len(recent) == 300  # raw within the last hour
    day = history.points(now - 86400, now)
    assert 1400 <= len(day) <= 1441  # per-minute means beyond it
    low, mean, high = history.extremes(now - 3600, now)
    assert (low, high) == (0, 599)
    assert 250 < mean < 350


def test_history_counts_a_repeated_evaluation_once() -> None:
    history = History()
    for _ in range(5):
        history.add(120.0, 10.0)  # a stopped clock evaluates the same instant again
    history.add(121.0, 20.0)
    assert history.extremes(60, 180) == (10.0, 15.0, 20.0)
