"""Helpers for the demo backend tests: a fake clock, polling, and PromQL's arithmetic.

A module with a distinct name (not ``conftest``) so test files can import it
whatever other ``conftest.py`` files the suite grows.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

#: A fixed wall-clock origin for fake-clock tests: 2025-03-03T12:34:56Z.
WALL0 = 1_741_005_296.0


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.start = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def wall(self) -> float:
        """The matching wall clock (epoch seconds)."""
        return WALL0 + (self.t - self.start)


def parse_metrics(text: str) -> dict[str, Any]:
    """Families by name (counters without ``_total``, as the parser names them)."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict[str, Any], name: str, **labels: str) -> list[Any]:
    """Every sample called ``name`` whose labels include ``labels``, from any family."""
    return [
        sample
        for family in families.values()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The sum of the matching samples' values."""
    return sum(sample.value for sample in samples(families, name, **labels))


def buckets(families: dict[str, Any], name: str, **labels: str) -> list[tuple[float, float]]:
    """Cumulative ``(upper_bound, count)`` pairs of a histogram, sorted by bound."""
    pairs = [
        (float(sample.labels["le"]), sample.value)
        for sample in samples(families, f"{name}_bucket", **labels)
    ]
    return sorted(pairs)


def histogram_quantile(q: float, cumulative: list[tuple[float, float]]) -> float:
    """PromQL's histogram_quantile: linear inside a bucket, +Inf answered by the last bound."""
    total = cumulative[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - lower_count) / (count - lower_count)
        lower, lower_count = bound, count
    return lower


def bucket_increase(
    before: list[tuple[float, float]], after: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Per-bound increase between two scrapes of a cumulative histogram."""
    return [(bound, a - b) for (bound, a), (_, b) in zip(after, before, strict=True)]
