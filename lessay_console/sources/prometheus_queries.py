"""The built-in PromQL of each metric, over the Lessay metrics contract (DESIGN section 5).

Each query computes in Prometheus what `derived.py` computes from scraped
series, in the unit `catalog.py` gives the metric: latencies in ms, rates and
usage in %, sessions as a count. A deployment whose series differ replaces a
query with `[prometheus.queries] METRIC = "..."`.

Ratios divide by a denominator filtered with `> 0`, so an empty window (no
payments, no lessons started) returns no series, which the console shows as
NODATA, rather than a NaN; a numerator with no series at all (no 5xx ever
seen) counts as 0, not as missing.
"""

from __future__ import annotations

import math

_UNITS = (("h", 3600_000), ("m", 60_000), ("s", 1000))


def promql_duration(seconds: float) -> str:
    """`seconds` as a PromQL range duration in one unit: 300 -> "5m", 90 -> "90s".

    One unit only, because durations such as "1h30m" need Prometheus 2.24+.

    >>> promql_duration(300), promql_duration(90), promql_duration(0.25)
    ('5m', '90s', '250ms')
    """
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a PromQL range must be a positive duration, not {seconds!r}")
    millis = max(1, round(seconds * 1000))
    for unit, size in _UNITS:
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _latency_ms(q: float, series: str, window: str, selector: str = "") -> str:
    buckets = f"{series}_bucket{{{selector}}}" if selector else f"{series}_bucket"
    return f"histogram_quantile({q}, sum by (le) (rate({buckets}[{window}]))) * 1000"


def builtin_queries(window: float) -> dict[str, str]:
    """Metric name -> PromQL computing it over `window` seconds."""
    w = promql_duration(window)
    requests = f"rate(lessay_http_requests_total[{w}])"
    errors = f'rate(lessay_http_requests_total{{code=~"5.."}}[{w}])'
    api = "lessay_http_request_duration_seconds"
    return {
        "api_latency_p50": _latency_ms(0.5, api, w, 'service="api"'),
        "api_latency_p95": _latency_ms(0.95, api, w, 'service="api"'),
        "api_latency_p99": _latency_ms(0.99, api, w, 'service="api"'),
        # per service; `or ... * 0` gives a service without any 5xx series 0%
        "api_error_rate": (
            f"100 * (sum by (service) ({errors}) or sum by (service) ({requests}) * 0)"
            f" / (sum by (service) ({requests}) > 0)"
        ),
        "db_pool_usage": (
            '100 * sum(lessay_db_pool_connections{state="in_use"})'
            " / (sum(lessay_db_pool_max_connections) > 0)"
        ),
        "db_latency_p95": _latency_ms(0.95, "lessay_db_query_duration_seconds", w),
        "payment_success_rate": (
            f'100 * (sum(increase(lessay_payment_transactions_total{{outcome="succeeded"}}[{w}]))'
            f" or vector(0))"
            f" / (sum(increase(lessay_payment_transactions_total[{w}])) > 0)"
        ),
        "active_sessions": "sum(lessay_active_sessions)",
        "lesson_completion_rate": (
            f"100 * (sum(increase(lessay_lessons_completed_total[{w}])) or vector(0))"
            f" / (sum(increase(lessay_lessons_started_total[{w}])) > 0)"
        ),
    }


def queries_for(
    metrics: tuple[str, ...], window: float, overrides: dict[str, str]
) -> dict[str, str]:
    """The query of each metric: the configured one, else the built-in one.

    A metric with neither is left out (the source notes it).
    """
    builtin = builtin_queries(window)
    chosen = {}
    for metric in metrics:
        query = overrides.get(metric) or builtin.get(metric)
        if query:
            chosen[metric] = query
    return chosen
