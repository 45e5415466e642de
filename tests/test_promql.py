"""lessay_console.promql: worked cases, properties against simple references,
and a cross-check of the same numbers against the real Prometheus (promtool)."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lessay_console.promql import (
    Quantile,
    delta,
    histogram_quantile,
    increase,
    quantile,
    rate,
    sum_buckets,
)

INF = math.inf
NAN = math.nan


def same(a: float | None, b: float | None) -> bool:
    """Equal, NaN matching NaN (Quantile's == cannot say that of NaN values)."""
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


# --- rate, increase, delta: worked cases --------------------------------------

REGULAR = [(60.0, 0.0), (120.0, 10.0), (180.0, 20.0), (240.0, 30.0), (300.0, 40.0)]


def test_increase_from_zero_is_not_extrapolated_below_zero() -> None:
    # 30 s to each boundary, under 1.1 x the 60 s interval: extrapolate to both,
    # except that the counter was 0 at the first sample, so not to the left.
    assert increase(REGULAR, 30.0, 330.0) == 40.0 * (240 + 0 + 30) / 240


def test_increase_extrapolates_to_both_boundaries() -> None:
    shifted = [(t, v + 100.0) for t, v in REGULAR]
    assert increase(shifted, 30.0, 330.0) == 50.0
    assert rate(shifted, 30.0, 330.0) == pytest.approx(50.0 / 300, rel=1e-15)


def test_counter_reset_mid_window_adds_the_value_before_the_drop() -> None:
    samples = [(60.0, 100.0), (120.0, 110.0), (180.0, 5.0), (240.0, 15.0), (300.0, 25.0)]
    raw = 10 + 5 + 10 + 10  # 100 → 110, reset, 0 → 5 → 15 → 25
    assert increase(samples, 30.0, 330.0) == raw * 300 / 240
    # delta is for gauges: the drop is a drop.
    assert delta(samples, 30.0, 330.0) == (25 - 100) * 300 / 240


def test_series_starting_inside_the_window_extrapolates_half_an_interval() -> None:
    samples = [(180.0 + 30 * i, 10.0 + 10 * i) for i in range(5)]
    # 180 s from the start is over 1.1 x 30 s: extrapolate 15 s to the left;
    # the zero point (120 x 10/40 = 30 s back) is further, so it does not bind.
    assert increase(samples, 0.0, 300.0) == 40.0 * (120 + 15) / 120


def test_zero_point_limits_the_half_interval_after_it_is_chosen() -> None:
    # Prometheus 3 (PR #13725): the half interval (15 s) is chosen first, then
    # capped by the zero point (120 x 8/40 = 24 s back): 15 s. Prometheus 2
    # capped the 180 s gap by the zero point first, got 24 s, under 1.1 x 30 s,
    # and extrapolated 24 s: 48. The promtool cross-check shows that number.
    samples = [(180.0 + 30 * i, 8.0 + 10 * i) for i in range(5)]
    assert increase(samples, 0.0, 300.0) == 45.0
    capped = [(180.0 + 30 * i, 2.0 + 10 * i) for i in range(5)]  # zero point 6 s back
    assert increase(capped, 0.0, 300.0) == pytest.approx(40.0 * (120 + 6) / 120, rel=1e-15)


def test_a_gap_of_exactly_1_1_intervals_is_already_a_series_start() -> None:
    samples = [(180.0 + 30 * i, 100.0 + 10 * i) for i in range(5)]
    # 33 s is 1.1 x 30 s exactly (in floats too): half an interval, 15 s.
    assert increase(samples, 147.0, 300.0) == 40.0 * (120 + 15) / 120


def test_series_ending_inside_the_window_extrapolates_half_an_interval() -> None:
    samples = [(30.0 * i, 100.0 + 10 * i) for i in range(1, 6)]
    assert increase(samples, 0.0, 300.0) == 40.0 * (120 + 30 + 15) / 120


@pytest.mark.parametrize("samples", [[], [(60.0, 5.0)]], ids=["empty", "one sample"])
def test_fewer_than_two_samples_give_no_result(samples: list[tuple[float, float]]) -> None:
    assert increase(samples, 0.0, 300.0) is None
    assert rate(samples, 0.0, 300.0) is None
    assert delta(samples, 0.0, 300.0) is None


def test_samples_at_the_same_time_divide_as_go_does() -> None:
    # A zero sampled interval: 0/0 in Go is NaN; Python would raise.
    assert same(increase([(60.0, 1.0), (60.0, 2.0)], 0.0, 300.0), NAN)
    assert same(delta([(60.0, 1.0), (60.0, 1.0)], 0.0, 300.0), NAN)


# --- rate, increase, delta: properties ----------------------------------------


def reference_increase(values: Sequence[float]) -> float:
    """Sum of the rises, a drop counting as a restart from zero."""
    return sum(curr - prev if curr >= prev else curr for prev, curr in pairwise(values))


times_strategy = st.lists(st.integers(0, 10**6), min_size=2, max_size=40, unique=True).map(sorted)
counter_values = st.integers(0, 10**6).map(float)


@given(times=times_strategy, data=st.data())
def test_increase_between_samples_on_the_boundaries_is_the_plain_sum(
    times: list[int], data: st.DataObject
) -> None:
    values = data.draw(st.lists(counter_values, min_size=len(times), max_size=len(times)))
    samples = [(float(t), v) for t, v in zip(times, values, strict=True)]
    start, end = float(times[0]), float(times[-1])
    assert increase(samples, start, end) == reference_increase(values)
    assert delta(samples, start, end) == values[-1] - values[0]
    assert rate(samples, start, end) == pytest.approx(
        reference_increase(values) / (end - start), rel=1e-12
    )


@given(
    times=times_strategy,
    before=st.integers(1, 10**5),
    after=st.integers(0, 10**5),
    data=st.data(),
)
def test_extrapolation_stays_within_the_window_and_above_zero(
    times: list[int], before: int, after: int, data: st.DataObject
) -> None:
    values = data.draw(st.lists(counter_values, min_size=len(times), max_size=len(times)))
    samples = [(float(t), v) for t, v in zip(times, values, strict=True)]
    start, end = float(times[0] - before), float(times[-1] + after)
    raw = reference_increase(values)
    result = increase(samples, start, end)
    assert result is not None
    # Extrapolation only widens the sampled interval, never beyond the window.
    assert raw <= result * (1 + 1e-12)
    assert result <= raw * (end - start) / (times[-1] - times[0]) * (1 + 1e-12)
    if after == 0:
        # All extrapolation is to the left: the line through the samples,
        # extended back, must not pass below zero.
        assert values[0] - (result - raw) >= -1e-9 * max(1.0, raw)


# --- histogram_quantile: worked cases -----------------------------------------

LATENCY = [(0.1, 10.0), (0.5, 20.0), (1.0, 30.0), (INF, 30.0)]


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        pytest.param(0.5, LATENCY, Quantile(0.1 + (0.5 - 0.1) * (5 / 10)), id="interpolated"),
        pytest.param(0.2, LATENCY, Quantile(0.1 * (6 / 10)), id="first bucket from 0"),
        pytest.param(1.0, LATENCY, Quantile(1.0), id="q=1 in a finite bucket"),
        pytest.param(0.0, LATENCY, Quantile(0.0), id="q=0"),
        pytest.param(
            0.5, [(0.1, 0.0), (0.5, 0.0), (INF, 10.0)], Quantile(0.5, True), id="all in +Inf"
        ),
        pytest.param(1.0, [(0.5, 9.0), (INF, 10.0)], Quantile(0.5, True), id="q=1 in +Inf"),
        pytest.param(
            0.5, list(reversed(LATENCY)), Quantile(0.1 + (0.5 - 0.1) * (5 / 10)), id="unsorted"
        ),
        pytest.param(
            0.5, [(0.1, 5.0), (INF, 20.0), (0.1, 5.0)], Quantile(0.1), id="duplicate le summed"
        ),
        pytest.param(
            0.9,
            [(0.1, 10.0), (0.5, 8.0), (1.0, 12.0), (INF, 12.0)],
            Quantile(0.5 + (1.0 - 0.5) * ((0.9 * 12 - 10) / 2)),
            id="non-monotonic counts take the envelope",
        ),
        pytest.param(
            0.2, [(-1.0, 5.0), (0.0, 10.0), (INF, 10.0)], Quantile(-1.0), id="negative first le"
        ),
        pytest.param(
            0.7,
            [(-1.0, 5.0), (0.0, 10.0), (INF, 10.0)],
            Quantile(-1.0 + (0.0 - -1.0) * ((0.7 * 10 - 5) / 5)),
            id="above a negative first le",
        ),
        pytest.param(0.3, [(0.0, 5.0), (1.0, 10.0), (INF, 10.0)], Quantile(0.0), id="le=0 first"),
        pytest.param(-0.1, LATENCY, Quantile(-INF), id="q<0"),
        pytest.param(1.1, LATENCY, Quantile(INF), id="q>1"),
        pytest.param(2.0, [(0.5, 1.0)], Quantile(INF), id="q>1 beats a missing +Inf"),
    ],
)
def test_histogram_quantile(
    q: float, buckets: list[tuple[float, float]], expected: Quantile
) -> None:
    assert histogram_quantile(q, buckets) == expected


@pytest.mark.parametrize(
    ("q", "buckets"),
    [
        pytest.param(0.5, [(0.1, 0.0), (0.5, 0.0), (INF, 0.0)], id="zero total"),
        pytest.param(0.5, [(INF, 10.0)], id="only +Inf"),
        pytest.param(0.5, [(INF, 4.0), (INF, 6.0)], id="only +Inf, duplicated"),
        pytest.param(NAN, LATENCY, id="NaN q"),
        # rank 0 in an empty first bucket: 0/0, as in Prometheus.
        pytest.param(0.0, [(0.1, 0.0), (0.5, 10.0), (INF, 10.0)], id="q=0 empty first bucket"),
    ],
)
def test_histogram_quantile_without_an_answer_is_nan(
    q: float, buckets: list[tuple[float, float]]
) -> None:
    result = histogram_quantile(q, buckets)
    assert result is not None
    assert math.isnan(result.value)
    assert not result.at_least


@pytest.mark.parametrize(
    "buckets", [[], [(0.1, 5.0), (0.5, 10.0)]], ids=["no buckets", "no +Inf bucket"]
)
def test_malformed_histograms_give_none(buckets: list[tuple[float, float]]) -> None:
    assert histogram_quantile(0.5, buckets) is None


def test_float_noise_between_buckets_is_ignored() -> None:
    # Relative differences of 1e-12 and less are floating point noise, upwards
    # as well as downwards; without that, q=1 would land in the 0.5 bucket.
    noisy = [(0.1, 1e12), (0.5, 1e12 + 0.5), (INF, 1e12 + 0.5)]
    assert histogram_quantile(1.0, noisy) == Quantile(0.1)
    real = [(0.1, 1e6), (0.5, 1e6 + 0.5), (INF, 1e6 + 0.5)]
    assert histogram_quantile(1.0, real) == Quantile(0.5)


def test_sum_buckets_sums_by_le_without_filling_gaps() -> None:
    a = [(INF, 12.0), (0.1, 2.0), (0.5, 10.0)]
    b = [(0.1, 1.0), (0.25, 3.0), (INF, 3.0)]
    assert sum_buckets([a, b]) == [(0.1, 3.0), (0.25, 3.0), (0.5, 10.0), (INF, 15.0)]
    assert sum_buckets([]) == []


def test_sum_buckets_compensates_rounding_as_prometheus_3_sum_does() -> None:
    # Plain float addition of ten 0.1s gives 0.9999999999999999.
    assert sum_buckets([[(1.0, 0.1)]] * 10) == [(1.0, 1.0)]


# --- histogram_quantile: properties -------------------------------------------

BOUNDS = [-5.0, -1.0, 0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]


@st.composite
def histograms(draw: st.DrawFn, bounds: list[float] = BOUNDS) -> list[tuple[float, float]]:
    """Well-formed cumulative buckets with at least one observation."""
    les = sorted(draw(st.lists(st.sampled_from(bounds), min_size=1, max_size=8, unique=True)))
    counts = list(
        accumulate(
            draw(st.lists(st.integers(0, 1000), min_size=len(les) + 1, max_size=len(les) + 1))
        )
    )
    assume(counts[-1] > 0)
    return [(le, float(c)) for le, c in zip([*les, INF], counts, strict=True)]


unit_q = st.floats(0.0, 1.0, exclude_min=True)


@given(histograms(), unit_q, unit_q)
def test_histogram_quantile_is_monotone_in_q(
    buckets: list[tuple[float, float]], q1: float, q2: float
) -> None:
    low, high = sorted([q1, q2])
    a, b = histogram_quantile(low, buckets), histogram_quantile(high, buckets)
    assert a is not None and b is not None
    assert a.value <= b.value + 1e-12 * abs(b.value)


@given(histograms(), unit_q, st.randoms(use_true_random=False), st.data())
def test_order_duplicates_and_decreases_do_not_change_the_answer(
    buckets: list[tuple[float, float]], q: float, rng: random.Random, data: st.DataObject
) -> None:
    expected = histogram_quantile(q, buckets)
    assert expected is not None
    # Split one bucket's count over two entries with the same le, and shuffle.
    i = data.draw(st.integers(0, len(buckets) - 1))
    le, count = buckets[i]
    part = float(data.draw(st.integers(0, int(count))))
    split = [*buckets[:i], (le, part), (le, count - part), *buckets[i + 1 :]]
    rng.shuffle(split)
    assert histogram_quantile(q, split) == expected
    # Lowering a count below its predecessor's is undone by the envelope.
    if i > 0 and buckets[i - 1][1] > 0:
        lowered = list(buckets)
        lowered[i] = (le, float(data.draw(st.integers(0, int(buckets[i - 1][1])))))
        envelope = list(accumulate((c for _, c in lowered), max))
        assert histogram_quantile(q, lowered) == histogram_quantile(
            q, [(b, c) for (b, _), c in zip(lowered, envelope, strict=True)]
        )


@given(
    st.lists(st.sampled_from(BOUNDS[3:]), min_size=1, max_size=6, unique=True).map(sorted),
    st.lists(st.floats(0.0, 20.0), min_size=1, max_size=200),
    unit_q,
)
def test_quantile_lies_in_the_bucket_of_the_true_quantile(
    les: list[float], observations: list[float], q: float
) -> None:
    buckets = [(le, float(sum(o <= le for o in observations))) for le in [*les, INF]]
    result = histogram_quantile(q, buckets)
    assert result is not None
    ordered = sorted(observations)
    rank = q * len(ordered)
    true_value = ordered[max(1, math.ceil(rank)) - 1]  # the rank-th smallest
    if result.at_least:
        assert true_value > les[-1] == result.value
        return
    index = next(i for i, le in enumerate(les) if true_value <= le)
    lower, upper = (les[index - 1] if index else 0.0), les[index]
    assert lower <= true_value <= upper
    # Prometheus's lower + (upper - lower) * fraction can round an ulp past upper.
    assert lower <= result.value <= upper * (1 + 1e-15)


# --- quantile -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "values", "expected"),
    [
        (0.5, [4.0, 1.0, 3.0, 2.0], 2.5),
        (0.0, [4.0, 1.0, 3.0], 1.0),
        (1.0, [4.0, 1.0, 3.0], 4.0),
        (0.9, [7.0], 7.0),
        (0.25, [0.0, 10.0], 2.5),
        (-0.5, [1.0, 2.0], -INF),
        (1.5, [1.0, 2.0], INF),
        (NAN, [1.0, 2.0], NAN),
        (0.5, [], NAN),
        (2.0, [], NAN),  # no values comes first, as in Prometheus
        (0.0, [1.0, NAN, 2.0], NAN),  # NaN sorts first
        (1.0, [NAN, 2.0, 1.0], 2.0),
        (0.5, [2.0, NAN, 1.0], 1.0),  # a plain sort would leave this list as it is
    ],
)
def test_quantile(q: float, values: list[float], expected: float) -> None:
    assert same(quantile(q, values), expected)


@given(
    st.lists(st.integers(-(10**6), 10**6).map(float), min_size=2, max_size=50),
    st.integers(2, 20),
    st.data(),
)
def test_quantile_matches_statistics_inclusive(
    values: list[float], n: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(1, n - 1))
    expected = statistics.quantiles(values, n=n, method="inclusive")[k - 1]
    assert quantile(k / n, values) == pytest.approx(expected, rel=1e-9, abs=1e-6)


# --- cross-check against Prometheus -----------------------------------------------
#
# promtool is Prometheus 2.42 (Debian); this module follows Prometheus 3. Two
# differences matter, and the cases are built around them: 2.x takes samples in
# [start, end] and 3 in (start, end], so no eval time here puts a sample on the
# window's start (every eval time falls between samples); and 2.x applies the
# counter zero-point limit before choosing to extrapolate by half an interval,
# so counter cases where that order matters are dropped (and one is pinned in
# test_promtool_2_orders_the_zero_point_limit_differently).

WINDOW = 300  # [5m]
TOLERANCE = 1e-9  # relative; abs 1e-12 for results at zero


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: CI must cross-check against Prometheus")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return path


Values = tuple[float | None, ...]  # promtool notation: None is '_' (no sample)


@dataclass(frozen=True)
class Group:
    """One promtool test group: series at `interval` seconds, and expressions
    with the value we compute for each (None: no result)."""

    interval: int
    series: tuple[tuple[str, Values], ...]
    checks: tuple[tuple[str, int, float | None], ...]


def window(values: Values, interval: int, at: int) -> list[tuple[float, float]]:
    return [
        (float(i * interval), v)
        for i, v in enumerate(values)
        if v is not None and at - WINDOW < i * interval <= at
    ]


def zero_point_order_matters(samples: list[tuple[float, float]], at: int) -> bool:
    """Whether Prometheus 2 and 3 extrapolate this counter differently."""
    if len(samples) < 2:
        return False
    (first_t, first_v), (last_t, _) = samples[0], samples[-1]
    raw = reference_increase([v for _, v in samples])
    average = (last_t - first_t) / (len(samples) - 1)
    if raw <= 0 or first_v < 0 or first_t - (at - WINDOW) < 1.1 * average:
        return False
    return average / 2 < (last_t - first_t) * first_v / raw < 1.1 * average


def yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    return {INF: ".inf", -INF: "-.inf"}.get(value, repr(value))


def render(groups: Sequence[Group]) -> str:
    # promtool only loads the samples up to the last multiple of the
    # evaluation interval (default 1m) at or before the latest eval time; at
    # 15 s, a divisor of every series interval here, it loads them all.
    assert all(group.interval % 15 == 0 for group in groups)
    lines = ["evaluation_interval: 15s", "tests:"]
    for group in groups:
        lines += [f"  - interval: {group.interval}s", "    input_series:"]
        for name, values in group.series:
            notation = " ".join("_" if v is None else repr(v) for v in values)
            lines += [f"      - series: '{name}'", f"        values: '{notation}'"]
        lines.append("    promql_expr_test:")
        for expr, at, value in group.checks:
            lines += [f"      - expr: '{expr}'", f"        eval_time: {at}s"]
            if value is None:
                lines.append("        exp_samples: []")
            else:
                lines += ["        exp_samples:", f"          - value: {yaml_float(value)}"]
    return "\n".join(lines) + "\n"


FAILURE = re.compile(
    r'expr: "(?P<expr>[^"]*)", time: [^\n]*\n\s*exp: [^\n]*\n\s*got: (?P<got>[^\n]*)'
)


def run_promtool(groups: Sequence[Group], tmp_path: Path) -> dict[str, float | None]:
    """What promtool computes for every expression (each is unique across groups).

    We write our values as the expectations: promtool passes those it computes
    identically and reports the others with its own value, which we parse."""
    path = tmp_path / "cases.yml"
    path.write_text(render(groups))
    done = subprocess.run(
        [promtool_path(), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    reported: dict[str, float | None] = {}
    for match in FAILURE.finditer(output):
        got = match["got"].strip()
        value = None if got == "nil" else float(got.removeprefix("{} "))
        reported[match["expr"]] = value
    assert (done.returncode == 0) == (not reported), f"promtool did not run the tests:\n{output}"
    ours = {expr: value for group in groups for expr, _, value in group.checks}
    assert len(ours) == sum(len(group.checks) for group in groups), "expressions must be unique"
    assert reported.keys() <= ours.keys(), output
    return {expr: reported.get(expr, value) for expr, value in ours.items()}


def assert_agree(groups: Sequence[Group], tmp_path: Path) -> None:
    theirs = run_promtool(groups, tmp_path)
    mismatches = []
    for group in groups:
        for expr, at, ours in group.checks:
            prometheus = theirs[expr]
            if ours is None or prometheus is None or math.isnan(ours) or math.isnan(prometheus):
                agree = same(ours, prometheus)
            else:
                agree = math.isclose(ours, prometheus, rel_tol=TOLERANCE, abs_tol=1e-12)
            if not agree:
                mismatches.append(f"{expr} at {at}s: ours {ours!r}, promtool {prometheus!r}")
    assert not mismatches, "\n".join(mismatches)


def counter_group(name: str, interval: int, values: Values, at: int, q: float) -> Group:
    samples = window(values, interval, at)
    checks = [
        (f"delta({name}[5m])", at, delta(samples, at - WINDOW, at)),
        (
            f"quantile_over_time({q}, {name}[5m])",
            at,
            quantile(q, [v for _, v in samples]) if samples else None,
        ),
    ]
    if not zero_point_order_matters(samples, at):
        checks += [
            (f"increase({name}[5m])", at, increase(samples, at - WINDOW, at)),
            (f"rate({name}[5m])", at, rate(samples, at - WINDOW, at)),
        ]
    return Group(interval, ((name, values),), tuple(checks))


def histogram_group(
    name: str, interval: int, series: dict[tuple[str, str], Values], at: int, q: float
) -> Group | None:
    """`histogram_quantile(q, sum by (le) (rate(name_bucket[5m])))` over series
    keyed by (instance, le); None if Prometheus 2 and 3 would differ."""
    per_instance: dict[str, list[tuple[float, float]]] = {}
    for (instance, le), values in series.items():
        samples = window(values, interval, at)
        if zero_point_order_matters(samples, at):
            return None
        bucket_rate = rate(samples, at - WINDOW, at)
        if bucket_rate is not None:
            per_instance.setdefault(instance, []).append((float(le), bucket_rate))
    result = histogram_quantile(q, sum_buckets(per_instance.values()))
    expr = f"histogram_quantile({q}, sum by (le) (rate({name}_bucket[5m])))"
    return Group(
        interval,
        tuple(
            (f'{name}_bucket{{instance="{instance}",le="{le}"}}', values)
            for (instance, le), values in series.items()
        ),
        ((expr, at, None if result is None else result.value),),
    )


def ramp(start: float, step: float, count: int, skip: int = 0) -> Values:
    return (None,) * skip + tuple(start + step * i for i in range(count - skip))


FIXED_COUNTERS = [
    # (interval, values, eval time): eval times fall between samples.
    (60, ramp(0, 10, 13), 630),  # from zero: the zero-point limit
    (60, ramp(100, 10, 13), 630),  # extrapolated to both ends
    (60, (*ramp(100, 10, 8), *ramp(5, 10, 5)), 630),  # reset mid-window
    (30, ramp(100, 7, 24, skip=17), 650),  # starts inside the window
    (30, (*ramp(100, 7, 18), *(None,) * 6), 670),  # ends inside the window
    (30, ramp(100, 10, 16, skip=6), 447),  # first sample exactly 1.1 intervals in
    (60, ramp(1, 1, 10, skip=9), 630),  # one sample: no result
    (15, tuple(float(v % 37) for v in range(0, 2000, 23)), 1000),  # resets at every turn
]

FIXED_HISTOGRAMS = [
    # (buckets: le -> per-minute increase, q)
    ({"0.1": 50, "0.5": 80, "1": 95, "+Inf": 100}, 0.95),
    ({"0.1": 0, "0.5": 0, "+Inf": 30}, 0.95),  # everything in +Inf
    ({"0.1": 0, "0.5": 0, "+Inf": 0}, 0.95),  # no traffic: NaN
    ({"0.1": 10, "0.5": 8, "1": 12, "+Inf": 12}, 0.9),  # non-monotonic (buggy exporter)
    ({"-1": 5, "0": 10, "1": 20, "+Inf": 20}, 0.2),  # negative and zero bounds
    ({"0.1": 50, "0.5": 80, "+Inf": 100}, 1.0),
    ({"0.1": 50, "0.5": 80, "+Inf": 100}, 0.0),
]


def fixed_groups() -> list[Group]:
    groups = [
        counter_group(f"fixed_{i}", interval, values, at, 0.5)
        for i, (interval, values, at) in enumerate(FIXED_COUNTERS)
    ]
    assert all(len(group.checks) == 4 for group in groups), "a fixed case was dropped"
    for i, (rates, q) in enumerate(FIXED_HISTOGRAMS):
        series = {
            (instance, le): ramp(start, per_minute * scale, 12)
            for le, per_minute in rates.items()
            for instance, start, scale in (("a", 0, 1), ("b", 1000, 2))
        }
        group = histogram_group(f"fixed_h{i}", 60, series, 630, q)
        assert group is not None
        groups.append(group)
    return groups


def random_counter(rng: random.Random, count: int) -> Values:
    value = float(rng.choice([0, 0, rng.randint(1, 500)]))
    values: list[float | None] = []
    for _ in range(count):
        if rng.random() < 0.05:
            value = float(rng.randint(0, 20))  # a restart
        else:
            value += rng.choice([0, rng.randint(0, 30), rng.randint(0, 30) + 0.5])
        values.append(value if rng.random() > 0.1 else None)
    start = rng.randint(0, count - 1) if rng.random() < 0.3 else 0
    end = rng.randint(start, count) if rng.random() < 0.2 else count
    return tuple(v if start <= i < end else None for i, v in enumerate(values))


def random_histogram(rng: random.Random, count: int) -> dict[tuple[str, str], Values]:
    les = sorted(rng.sample([-1.0, 0.0, 0.005, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5], rng.randint(1, 5)))
    weights = [rng.choice([0, 1, 5, 20]) for _ in range(len(les) + 1)]
    series: dict[tuple[str, str], Values] = {}
    for instance in rng.sample(["a", "b", "c"], rng.randint(1, 3)):
        first = rng.randint(0, count - 1) if rng.random() < 0.3 else 0
        per_bucket = [0.0] * (len(les) + 1)
        rows: list[list[float]] = []
        for _ in range(count):
            if rng.random() < 0.05:
                per_bucket = [0.0] * len(per_bucket)  # the process restarted
            for i, weight in enumerate(weights):
                per_bucket[i] += rng.randint(0, weight)
            rows.append(list(accumulate(per_bucket)))  # cumulative over le
        if len(les) > 1 and rng.random() < 0.15:  # a buggy exporter: counts fall with le
            i = rng.randrange(len(les) - 1)
            rows = [[*row[:i], row[i + 1], row[i], *row[i + 2 :]] for row in rows]
        for i, le in enumerate([*map(repr, les), "+Inf"]):
            series[(instance, le)] = tuple(
                row[i] if step >= first else None for step, row in enumerate(rows)
            )
    return series


def random_groups(seed: int, count: int) -> list[Group]:
    rng = random.Random(seed)  # noqa: S311 - reproducible cases, not secrets
    groups: list[Group] = []
    while len(groups) < count:
        interval = rng.choice([15, 30, 60])
        # Between two samples, so that none sits on the window's start.
        at = rng.randint(2 * WINDOW // interval, 3 * WINDOW // interval) * interval
        at += rng.randint(1, interval - 1)
        steps = at // interval + rng.randint(1, 3)
        q = rng.choice([0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0])
        index = len(groups)
        if index % 2:
            group = histogram_group(f"h_{index}", interval, random_histogram(rng, steps), at, q)
        else:
            group = counter_group(f"x_{index}", interval, random_counter(rng, steps), at, q)
        if group is not None:
            groups.append(group)
    return groups


def test_fixed_cases_agree_with_promtool(tmp_path: Path) -> None:
    assert_agree(fixed_groups(), tmp_path)


def test_random_cases_agree_with_promtool(tmp_path: Path) -> None:
    assert_agree(random_groups(seed=20240501, count=300), tmp_path)


def test_promtool_2_orders_the_zero_point_limit_differently(tmp_path: Path) -> None:
    values = ramp(8, 10, 11, skip=6)  # samples at 180 … 300 s: 8, 18, 28, 38, 48
    expr = "increase(pinned[5m])"
    ours = increase(window(values, 30, 300), 0, 300)
    group = Group(30, (("pinned", values),), ((expr, 300, ours),))
    assert ours == 45.0  # Prometheus 3
    assert run_promtool([group], tmp_path)[expr] == 48.0  # Prometheus 2.42
