"""PromQL's arithmetic on samples: rate, increase, delta and the two quantiles.

Ports of Prometheus 3.x, since operators compare the console's numbers with
it: `extrapolatedRate` (promql/functions.go); `BucketQuantile`,
`coalesceBuckets`, `ensureMonotonicAndIgnoreSmallDeltas` and `quantile`
(promql/quantile.go); `sum`'s Kahan summation (engine.go, util/kahansum).
Unlike 2.x, a range holds the samples in (start, end], not [start, end] (the
caller selects them, as `Series.window` does); the counter zero-point limit
applies after the choice between extrapolating to the boundary and by half an
interval, not before (PR #13725, 2024); bucket counts within a relative 1e-12
of each other count as equal.

Times are float seconds (Prometheus: integer milliseconds). Floats behave as
in Go: division by zero gives ±Inf or NaN. Native histograms and the
experimental `anchored` and `smoothed` modifiers are not covered.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

Samples = Sequence[tuple[float, float]]  # (time in seconds, value), in time order
_MIN_NORMAL = sys.float_info.min  # util/almost's minNormal
# quantile.go's smallDeltaTolerance: relative bucket differences this small
# are floating point noise (from sharded sums), not observations.
_SMALL_DELTA_TOLERANCE = 1e-12


def _div(a: float, b: float) -> float:
    """a / b as Go divides float64: by zero gives ±Inf, or NaN for 0/0."""
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


@dataclass(frozen=True, slots=True)
class RangeSummary:
    """What `extrapolatedRate` needs of the samples in a range: the first and last,
    how many there are, and the sum of the values lost to counter resets."""

    first_t: float
    first_v: float
    last_t: float
    last_v: float
    count: int
    reset_correction: float = 0.0


def summarize(samples: Samples) -> RangeSummary | None:
    """The summary of (time, value) samples in time order; None with fewer than two."""
    if len(samples) < 2:
        return None
    # A drop is a reset: the counter restarted from zero, so what it had
    # counted before the drop is part of the increase.
    correction = sum(prev for (_, prev), (_, curr) in pairwise(samples) if curr < prev)
    return RangeSummary(*samples[0], *samples[-1], len(samples), correction)


def extrapolated_delta(
    samples: Samples, range_start: float, range_end: float, *, is_counter: bool, is_rate: bool
) -> float | None:
    """Prometheus's `extrapolatedRate` over (time, value) samples in time order.

    None (Prometheus: no result) with fewer than two samples."""
    summary = summarize(samples)
    if summary is None:
        return None
    return extrapolate(summary, range_start, range_end, is_counter=is_counter, is_rate=is_rate)


def extrapolate(
    summary: RangeSummary,
    range_start: float,
    range_end: float,
    *,
    is_counter: bool,
    is_rate: bool,
) -> float:
    """`extrapolatedRate` from a range's summary (the store keeps one cheaply per series)."""
    first_t, first_v, last_t = summary.first_t, summary.first_v, summary.last_t
    result = summary.last_v - first_v
    if is_counter:
        result += summary.reset_correction

    duration_to_start = first_t - range_start
    duration_to_end = range_end - last_t
    sampled_interval = last_t - first_t
    average_interval = sampled_interval / (summary.count - 1)

    # A sample missing where the spacing predicts one (over 110 % of the
    # average interval from a boundary) means the series starts or ends
    # inside the range: extrapolate by half an interval, not to the boundary.
    threshold = average_interval * 1.1
    if duration_to_start >= threshold:
        duration_to_start = average_interval / 2
    if is_counter:
        # A counter is never negative: extrapolate no further back than the
        # point where the straight line through the samples reaches zero.
        duration_to_zero = duration_to_start
        if result > 0 and first_v >= 0:
            duration_to_zero = sampled_interval * (first_v / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    if duration_to_end >= threshold:
        duration_to_end = average_interval / 2

    factor = _div(sampled_interval + duration_to_start + duration_to_end, sampled_interval)
    if is_rate:
        factor = _div(factor, range_end - range_start)
    return result * factor


def increase(samples: Samples, start: float, end: float) -> float | None:
    """PromQL `increase(x[end - start])` over the samples in (start, end]."""
    return extrapolated_delta(samples, start, end, is_counter=True, is_rate=False)


def rate(samples: Samples, start: float, end: float) -> float | None:
    """PromQL `rate(x[end - start])`: the increase per second."""
    return extrapolated_delta(samples, start, end, is_counter=True, is_rate=True)


def delta(samples: Samples, start: float, end: float) -> float | None:
    """PromQL `delta(x[end - start])`, for gauges: no reset handling, no zero limit."""
    return extrapolated_delta(samples, start, end, is_counter=False, is_rate=False)


@dataclass(frozen=True, slots=True)
class Quantile:
    """A histogram quantile; `at_least` when the rank fell in the `+Inf` bucket.

    Prometheus then answers the highest finite upper bound, which is only a
    lower bound of the true quantile: show it as "≥ value".
    """

    value: float
    at_least: bool = False


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """util/kahansum `Inc`: Neumaier's compensated addition, as `sum` uses."""
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def sum_buckets(groups: Iterable[Sequence[tuple[float, float]]]) -> list[tuple[float, float]]:
    """`sum by (le)` over the series of a histogram: (le, count) summed per le, by le."""
    sums: dict[float, tuple[float, float]] = {}
    for buckets in groups:
        for le, count in buckets:
            # engine.go's aggregation starts a group at its first value.
            sums[le] = _kahan_inc(count, *sums[le]) if le in sums else (count, 0.0)
    return sorted((le, total + c) for le, (total, c) in sums.items())


def _almost_equal(a: float, b: float, epsilon: float) -> bool:
    """util/almost `Equal`: a and b differ by less than epsilon relative to their sum."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < epsilon


def _ensure_monotonic(counts: list[float]) -> None:
    """`ensureMonotonicAndIgnoreSmallDeltas`: drop float noise, then any decrease."""
    prev = counts[0]
    for i in range(1, len(counts)):
        curr = counts[i]
        if curr == prev:
            continue
        # Noise in either direction, and any real decrease, keep `prev`: the
        # envelope of the cumulative counts.
        if _almost_equal(prev, curr, _SMALL_DELTA_TOLERANCE) or curr < prev:
            counts[i] = prev
            continue
        prev = curr


def _search(counts: list[float], rank: float) -> int:
    """Go's `sort.Search` (binary, so NaN counts land where they do in Go) for
    the first bucket, the last excepted, with count >= rank."""
    low, high = 0, len(counts) - 1
    while low < high:
        mid = (low + high) // 2
        if counts[mid] >= rank:
            high = mid
        else:
            low = mid + 1
    return low


def _out_of_range(q: float) -> float | None:
    """What both quantiles answer for a q that is NaN, below 0 or above 1."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    return math.inf if q > 1 else None


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> Quantile | None:
    """Prometheus's `BucketQuantile` over (le, cumulative count) pairs, in any order.

    None when there is no `+Inf` bucket (Prometheus: NaN) or no bucket at all
    (Prometheus: no result): the histogram is malformed. A well-formed one
    without an answer gives Quantile(nan): fewer than two distinct bounds, or
    no observations in the window (no traffic is a state to show, not an
    error). As in Prometheus, q is checked before the buckets: outside [0, 1]
    it gives ±Inf, NaN gives NaN.
    """
    if not buckets:
        return None
    special = _out_of_range(q)
    if special is not None:
        return Quantile(special)
    ordered = sorted(buckets, key=lambda bucket: bucket[0])
    if ordered[-1][0] != math.inf:
        return None
    bounds: list[float] = []
    counts: list[float] = []
    for le, count in ordered:  # coalesceBuckets: one bucket per bound.
        if bounds and le == bounds[-1]:
            counts[-1] += count
        else:
            bounds.append(le)
            counts.append(count)
    _ensure_monotonic(counts)
    if len(bounds) < 2 or counts[-1] == 0:
        return Quantile(math.nan)
    return _interpolate(q * counts[-1], bounds, counts)


def _interpolate(rank: float, bounds: list[float], counts: list[float]) -> Quantile:
    """The rest of `BucketQuantile`: find the bucket holding `rank`, interpolate in it."""
    b = _search(counts, rank)
    if b == len(counts) - 1:
        return Quantile(bounds[-2], at_least=True)
    if b == 0 and bounds[0] <= 0:
        return Quantile(bounds[0])
    # A natural lower bound of 0 below the first bucket; linear inside one.
    bucket_start, count = 0.0, counts[b]
    if b > 0:
        bucket_start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return Quantile(bucket_start + (bounds[b] - bucket_start) * _div(rank, count))


def quantile(q: float, values: Sequence[float]) -> float:
    """Prometheus's `quantile` and `quantile_over_time`: interpolated at rank q(n - 1)."""
    if not values:
        return math.nan
    special = _out_of_range(q)
    if special is not None:
        return special
    ordered = sorted(values, key=lambda v: (not math.isnan(v), v))  # NaN first, as in Go.
    rank = q * (len(ordered) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight
