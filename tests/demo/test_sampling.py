"""The random draws and distribution helpers the simulation is built on."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from lessay_console.demo.sampling import (
    LATENCY_BUCKETS,
    binomial,
    lognormal_cdf,
    lognormal_mean,
    poisson,
    smoothing_factor,
    split_by_weights,
)


def test_buckets_are_the_prometheus_defaults() -> None:
    assert LATENCY_BUCKETS[:3] == (0.005, 0.01, 0.025)
    assert LATENCY_BUCKETS[-2:] == (10.0, math.inf)
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_lognormal_cdf_is_one_half_at_the_median_and_monotone() -> None:
    assert lognormal_cdf(0.2, 0.2, 0.5) == 0.5
    values = [lognormal_cdf(bound, 0.05, 0.5) for bound in LATENCY_BUCKETS]
    assert values == sorted(values)
    assert lognormal_cdf(0.0, 0.05, 0.5) == 0.0
    assert values[-1] == 1.0


def test_lognormal_mean_is_above_the_median() -> None:
    assert lognormal_mean(0.1, 0.5) == 0.1 * math.exp(0.125)


@given(seed=st.integers(0, 2**32), n=st.integers(0, 500), p=st.floats(0.0, 1.0))
def test_binomial_stays_within_zero_and_n(seed: int, n: int, p: float) -> None:
    assert 0 <= binomial(random.Random(seed), n, p) <= n  # noqa: S311 - seeded test draws


def test_binomial_and_poisson_means() -> None:
    rng = random.Random(7)  # noqa: S311 - seeded test draws
    small = [binomial(rng, 2, 0.3) for _ in range(20_000)]
    large = [binomial(rng, 1000, 0.3) for _ in range(2_000)]
    assert abs(sum(small) / len(small) - 0.6) < 0.03
    assert abs(sum(large) / len(large) - 300) < 3
    for lam in (2.0, 120.0):
        draws = [poisson(rng, lam) for _ in range(5_000)]
        assert abs(sum(draws) / len(draws) - lam) < 0.05 * lam
    assert poisson(rng, 0.0) == 0


@given(seed=st.integers(0, 2**32), n=st.integers(0, 300))
def test_split_by_weights_adds_up(seed: int, n: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - seeded test draws
    parts = split_by_weights(rng, n, (("500", 0.6), ("502", 0.3), ("503", 0.1)))
    assert sum(parts.values()) == n
    assert set(parts) == {"500", "502", "503"}
    assert all(part >= 0 for part in parts.values())


def test_smoothing_closes_95_percent_within_three_time_constants() -> None:
    alpha = smoothing_factor(2.0)
    assert (1 - alpha) ** 6 < 0.05 < (1 - alpha) ** 5
