"""Random draws and distribution helpers for the simulation.

Every draw takes the caller's :class:`random.Random`, never the global one, so a
seeded model is reproducible. Only the stdlib ``math`` module is used: latency
histograms are filled from the lognormal CDF rather than by sampling each request,
which keeps a simulation step in the microseconds whatever the request rate.
"""

from __future__ import annotations

import math
import random

#: Prometheus client default histogram buckets (upper bounds, seconds), +Inf last.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    math.inf,
)

# Below this many trials the binomial is drawn exactly; above it the normal
# approximation is indistinguishable at the rates simulated here and O(1).
_EXACT_BINOMIAL_MAX_N = 64
# Knuth's Poisson method costs one draw per unit of lambda: fine below this.
_EXACT_POISSON_MAX_LAMBDA = 30.0


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    """P(X <= x) for a lognormal with the given median and log-space sigma."""
    if x <= 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    z = math.log(x / median) / (sigma * math.sqrt(2.0))
    return 0.5 * (1.0 + math.erf(z))


def lognormal_mean(median: float, sigma: float) -> float:
    """Mean of a lognormal with the given median: median * exp(sigma^2 / 2)."""
    return median * math.exp(sigma * sigma / 2.0)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: exact (Knuth) for small lambda, rounded normal above."""
    if lam <= 0.0:
        return 0
    if lam > _EXACT_POISSON_MAX_LAMBDA:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k = 0
    product = rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw: exact for small n (payments: ~2 trials), normal above."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n <= _EXACT_BINOMIAL_MAX_N:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean = n * p
    draw = round(rng.gauss(mean, math.sqrt(mean * (1.0 - p))))
    return min(n, max(0, draw))


def split_by_weights(
    rng: random.Random, n: int, weights: tuple[tuple[str, float], ...]
) -> dict[str, int]:
    """Split n events among labels with the given weights (a multinomial draw).

    Drawn as a chain of binomials on the remaining count, so the parts always
    add up to n exactly.
    """
    parts: dict[str, int] = {}
    remaining = n
    weight_left = sum(weight for _, weight in weights)
    for label, weight in weights[:-1]:
        share = binomial(rng, remaining, weight / weight_left) if weight_left > 0 else 0
        parts[label] = share
        remaining -= share
        weight_left -= weight
    parts[weights[-1][0]] = remaining
    return parts


def smoothing_factor(time_constant: float, step: float = 1.0) -> float:
    """Share of the gap to the target closed in one step of an exponential smoother."""
    return 1.0 - math.exp(-step / time_constant)
