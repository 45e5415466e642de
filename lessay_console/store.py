"""The metric store: recent samples of every series, bounded in memory whatever the run time.

Each series keeps its samples for `retention` seconds (enough for the longest
rate window and `for` duration) in two arrays of doubles, 16 bytes a sample.
Expired samples are dropped in bulk once they are half of a series, so
appending stays O(1) amortised. Series that stop receiving samples are
forgotten after the retention.

Queries follow Prometheus: a range selector takes the samples in
(start, end]; an instant lookup takes the last sample at or before the
evaluation time within the staleness window, unless that sample is a
staleness marker.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from lessay_console.promql import RangeSummary, summarize
from lessay_console.samples import Labels, Sample, is_stale


class Series:
    """The samples of one series, in time order.

    Besides the samples it notes, sparsely, what makes a range's summary
    cheap: each drop of the value (a counter reset, with the value before it)
    and the times of staleness markers. A rate over a window then costs two
    binary searches instead of a pass over every sample.
    """

    __slots__ = ("_last_live", "drops", "stale_times", "times", "values")

    def __init__(self) -> None:
        self.times = array("d")
        self.values = array("d")
        self.drops: list[tuple[float, float, float]] = []  # (t before, t after, value before)
        self.stale_times: list[float] = []
        self._last_live: tuple[float, float] | None = None  # the last non-stale sample

    def __len__(self) -> int:
        return len(self.times)

    def append(self, t: float, value: float) -> None:
        """Add a sample; one not after the last is dropped (as Prometheus drops
        out-of-order samples), except that a same-time sample replaces the last."""
        if self.times and t <= self.times[-1]:
            if t == self.times[-1] and not is_stale(value) and not is_stale(self.values[-1]):
                self.values[-1] = value
                self._last_live = (t, value)
            return
        self.times.append(t)
        self.values.append(value)
        if is_stale(value):
            self.stale_times.append(t)
            return
        if self._last_live is not None and value < self._last_live[1]:
            self.drops.append((self._last_live[0], t, self._last_live[1]))
        self._last_live = (t, value)

    def latest(self, at: float, staleness: float) -> tuple[float, float] | None:
        """The last sample at or before `at`, if newer than `at - staleness` and not stale."""
        index = bisect_right(self.times, at) - 1
        if index < 0:
            return None
        t, value = self.times[index], self.values[index]
        if t <= at - staleness or is_stale(value):
            return None
        return t, value

    def window(self, start: float, end: float) -> list[tuple[float, float]]:
        """Samples with start < t <= end, staleness markers left out."""
        low = bisect_right(self.times, start)
        high = bisect_right(self.times, end)
        return [
            (self.times[i], self.values[i])
            for i in range(low, high)
            if not is_stale(self.values[i])
        ]

    def summary(self, start: float, end: float) -> RangeSummary | None:
        """What a rate over (start, end] needs, from two binary searches.

        Exactly what `promql.summarize(self.window(start, end))` gives."""
        low = bisect_right(self.times, start)
        high = bisect_right(self.times, end)
        stale = self.stale_times
        if stale and bisect_right(stale, end) > bisect_right(stale, start):
            return summarize(self.window(start, end))  # rare: markers inside the range
        if high - low < 2:
            return None
        correction = sum(
            before
            for t_before, t_after, before in self.drops
            if t_before > start and t_after <= end
        )
        return RangeSummary(
            self.times[low],
            self.values[low],
            self.times[high - 1],
            self.values[high - 1],
            high - low,
            correction,
        )

    def prune(self, before: float) -> None:
        """Forget samples at or before `before`, in bulk once they are half the series."""
        expired = bisect_right(self.times, before)
        if expired and expired * 2 >= len(self.times):
            del self.times[:expired]
            del self.values[:expired]
            self.drops = [d for d in self.drops if d[0] > before]
            self.stale_times = [t for t in self.stale_times if t > before]

    @property
    def last_time(self) -> float | None:
        return self.times[-1] if self.times else None


@dataclass(frozen=True, slots=True)
class SeriesRef:
    name: str
    labels: Labels
    series: Series

    def label(self, name: str, default: str = "") -> str:
        return dict(self.labels).get(name, default)


LabelMatcher = Mapping[str, str] | Callable[[Labels], bool] | None


class MetricStore:
    """Every series by name and label set."""

    def __init__(self, retention: float = 15 * 60) -> None:
        self.retention = retention
        self._series: dict[str, dict[Labels, Series]] = {}

    def append(self, name: str, labels: Labels, t: float, value: float) -> None:
        by_labels = self._series.setdefault(name, {})
        series = by_labels.get(labels)
        if series is None:
            series = by_labels[labels] = Series()
        series.append(t, value)

    def append_samples(self, samples: Iterable[Sample], t: float, extra: Labels = ()) -> None:
        """Add a poll's samples at time `t` (or their own), with `extra` labels."""
        for sample in samples:
            labels = tuple(sorted(sample.labels + extra)) if extra else sample.labels
            when = t if sample.timestamp is None else sample.timestamp
            self.append(sample.name, labels, when, sample.value)

    def select(self, name: str, match: LabelMatcher = None) -> Iterator[SeriesRef]:
        """The series called `name` whose labels match (equal values, or a predicate)."""
        for labels, series in self._series.get(name, {}).items():
            if match is None:
                yield SeriesRef(name, labels, series)
            elif callable(match):
                if match(labels):
                    yield SeriesRef(name, labels, series)
            elif all((key, value) in labels for key, value in match.items()):
                yield SeriesRef(name, labels, series)

    def names(self) -> list[str]:
        return list(self._series)

    def prune(self, now: float) -> None:
        """Drop samples older than the retention, and series with none left."""
        horizon = now - self.retention
        for name in list(self._series):
            by_labels = self._series[name]
            for labels in list(by_labels):
                series = by_labels[labels]
                last = series.last_time
                if last is None or last <= horizon:
                    del by_labels[labels]
                else:
                    series.prune(horizon)
            if not by_labels:
                del self._series[name]

    def sample_count(self) -> int:
        return sum(len(s) for by_labels in self._series.values() for s in by_labels.values())


class History:
    """One metric's evaluated values for plots: recent ones raw, older ones downsampled.

    Raw values are kept for `raw_span` (1 h), and per-bucket aggregates
    (min, max, sum, count per minute) for `span` (24 h) in a ring allocated
    up front: the memory a metric's history takes is fixed from the first
    minute (about 46 KB for the ring, plus the raw hour).
    """

    __slots__ = (
        "_count",
        "_max",
        "_min",
        "_starts",
        "_sum",
        "bucket",
        "raw",
        "raw_span",
        "slots",
        "span",
    )

    def __init__(
        self, raw_span: float = 3600.0, span: float = 86400.0, bucket: float = 60.0
    ) -> None:
        self.raw_span, self.span, self.bucket = raw_span, span, bucket
        self.raw = Series()
        self.slots = int(span // bucket)
        nan = float("nan")
        # slot i holds the bucket that starts at _starts[i] (NaN: empty)
        self._starts = array("d", [nan]) * self.slots
        self._min = array("d", [0.0]) * self.slots
        self._max = array("d", [0.0]) * self.slots
        self._sum = array("d", [0.0]) * self.slots
        self._count = array("d", [0.0]) * self.slots

    def add(self, t: float, value: float) -> None:
        last = self.raw.last_time
        if last is not None and t <= last:
            # out of order is dropped; a second evaluation at the same time (a stopped
            # clock) replaces the raw value but must not count twice in the bucket
            if t == last:
                self.raw.append(t, value)
            return
        self.raw.append(t, value)
        self.raw.prune(t - self.raw_span)
        start = t - t % self.bucket
        slot = int(start // self.bucket) % self.slots
        if self._starts[slot] != start:  # a new bucket (NaN never equals)
            self._starts[slot] = start
            self._min[slot] = self._max[slot] = self._sum[slot] = value
            self._count[slot] = 1.0
            return
        self._min[slot] = min(self._min[slot], value)
        self._max[slot] = max(self._max[slot], value)
        self._sum[slot] += value
        self._count[slot] += 1

    def _buckets(self, since: float, until: float) -> list[int]:
        """Slots of the buckets that overlap (since, until], oldest first."""
        horizon = until - self.span
        slots = [
            i
            for i, start in enumerate(self._starts)
            if start > horizon  # False for an empty (NaN) slot
            and since < start + self.bucket
            and start <= until
        ]
        return sorted(slots, key=self._starts.__getitem__)

    def points(self, since: float, until: float) -> list[tuple[float, float]]:
        """Raw points when the span is within the raw history, else per-bucket means."""
        if self.raw.times and since >= until - self.raw_span:
            return self.raw.window(since, until)
        return [
            (self._starts[i], self._sum[i] / self._count[i])
            for i in self._buckets(since, until)
            if self._starts[i] > since
        ]

    def extremes(self, since: float, until: float) -> tuple[float, float, float] | None:
        """(min, mean, max) of the per-minute buckets overlapping the span."""
        chosen = self._buckets(since, until)
        if not chosen:
            return None
        count = sum(self._count[i] for i in chosen)
        return (
            min(self._min[i] for i in chosen),
            sum(self._sum[i] for i in chosen) / count,
            max(self._max[i] for i in chosen),
        )

    def trend(self, until: float, bins: int, bin_seconds: float) -> list[float]:
        """Means of the last `bins` completed bins of `bin_seconds` before `until`.

        Only completed bins, aligned to the clock: a sparkline drawn from them
        changes once a bin, not at every evaluation (bytes on a slow link)."""
        end = until - until % bin_seconds
        start = end - bins * bin_seconds
        sums, counts = [0.0] * bins, [0] * bins
        for t, value in self.raw.window(start, end):
            index = min(bins - 1, int((t - start) // bin_seconds))
            sums[index] += value
            counts[index] += 1
        return [total / count for total, count in zip(sums, counts, strict=True) if count]
