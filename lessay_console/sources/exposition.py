"""Parsing and validating a `/metrics` body: whole, or not at all.

The body is parsed with prometheus_client's parser, then checked: every
histogram has a `+Inf` bucket equal to its count and cumulative buckets that
never decrease; counters are neither negative nor NaN. Any of these rejects
the whole body: a dashboard half-fed from a broken page would show numbers
that never existed. A contract series of the wrong type (DESIGN section 5)
is dropped alone, with a problem naming it, since the rest is sound.
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import pairwise

from prometheus_client.parser import text_string_to_metric_families

from lessay_console.samples import Sample, SourceFailure, labels_of

# The metrics contract: family name (as the parser names it) -> type.
CONTRACT = {
    "lessay_http_requests": "counter",
    "lessay_http_request_duration_seconds": "histogram",
    "lessay_db_pool_connections": "gauge",
    "lessay_db_pool_max_connections": "gauge",
    "lessay_db_query_duration_seconds": "histogram",
    "lessay_payment_transactions": "counter",
    "lessay_active_sessions": "gauge",
    "lessay_lessons_started": "counter",
    "lessay_lessons_completed": "counter",
}


def parse_exposition(
    text: str,
    extra: dict[str, str] | None = None,
) -> tuple[list[Sample], list[str]]:
    """Samples of a valid body (with `extra` labels, such as the instance) and the
    problems of dropped families; SourceFailure if the body is invalid."""
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as error:
        raise SourceFailure("parse", f"not the Prometheus text format: {_short(error)}") from None
    samples: list[Sample] = []
    problems: list[str] = []
    for family in families:
        expected = CONTRACT.get(family.name)
        if expected and family.type != expected and family.samples:
            problems.append(f"{family.name} is a {family.type}, expected a {expected}; ignored")
            continue
        if family.type == "histogram":
            _check_histogram(family.name, family.samples)
        for sample in family.samples:
            value = float(sample.value)
            if family.type == "counter" and (math.isnan(value) or value < 0):
                raise SourceFailure("invalid", f"counter {sample.name} is {value:g}")
            labels = {**sample.labels, **extra} if extra else sample.labels
            samples.append(Sample(sample.name, value, labels_of(labels)))
    return samples, problems


def _check_histogram(name: str, family_samples: list) -> None:
    buckets: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    counts: dict[tuple, float] = {}
    for sample in family_samples:
        rest = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        if sample.name.endswith("_bucket"):
            try:
                bound = float(sample.labels["le"])
            except (KeyError, ValueError):
                raise SourceFailure("invalid", f"{name}: bucket without a valid le") from None
            buckets[rest].append((bound, float(sample.value)))
        elif sample.name.endswith("_count"):
            counts[rest] = float(sample.value)
    for labels, series in buckets.items():
        series.sort()
        where = f"{name}{dict(labels) or ''}"
        if series[-1][0] != math.inf:
            raise SourceFailure("invalid", f"histogram {where} has no +Inf bucket")
        if any(later < earlier for (_, earlier), (_, later) in pairwise(series)):
            raise SourceFailure("invalid", f"histogram {where} has decreasing buckets")
        if labels in counts and counts[labels] != series[-1][1]:
            raise SourceFailure("invalid", f"histogram {where}: +Inf bucket differs from _count")


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 120 else text[:117] + "..."
