"""The model's numbers in the Prometheus exposition format (DESIGN section 5).

A custom collector in a private :class:`CollectorRegistry` (never the global
one, which would mix in the console's own process metrics and leak between
backends), rendered with ``prometheus_client`` itself so the output is exactly
what a real Lessay service using the official client serves.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from lessay_console.demo.model import POOL_MAX, SERVICES, DemoModel, Histogram
from lessay_console.demo.sampling import LATENCY_BUCKETS

_BOUNDS = [floatToGoString(bound) for bound in LATENCY_BUCKETS]


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [
        (bound, float(count))
        for bound, count in zip(_BOUNDS, histogram.cumulative_counts(), strict=True)
    ]


class ModelCollector(Collector):
    """Reads a :class:`DemoModel` at collection time; the caller holds the model's lock."""

    def __init__(self, model: DemoModel) -> None:
        self.model = model

    def collect(self) -> Iterator[Metric]:
        """Every series of the metrics contract, with its HELP text."""
        model = self.model
        requests = CounterMetricFamily(
            "lessay_http_requests",
            "HTTP requests handled, by service and status code.",
            labels=["service", "code"],
        )
        durations = HistogramMetricFamily(
            "lessay_http_request_duration_seconds",
            "HTTP request duration in seconds, by service.",
            labels=["service"],
        )
        for service in SERVICES:
            for code, count in model.requests[service].items():
                requests.add_metric([service, code], float(count))
            histogram = model.request_durations[service]
            durations.add_metric([service], _buckets(histogram), sum_value=histogram.total)
        yield requests
        yield durations

        pool = GaugeMetricFamily(
            "lessay_db_pool_connections",
            "Database connection pool connections, by state.",
            labels=["state"],
        )
        pool.add_metric(["in_use"], float(model.pool_in_use))
        pool.add_metric(["idle"], float(model.pool_idle))
        yield pool
        yield GaugeMetricFamily(
            "lessay_db_pool_max_connections",
            "Maximum size of the database connection pool.",
            value=float(POOL_MAX),
        )
        queries = model.query_durations
        yield HistogramMetricFamily(
            "lessay_db_query_duration_seconds",
            "Database query duration in seconds.",
            buckets=_buckets(queries),
            sum_value=queries.total,
        )

        payments = CounterMetricFamily(
            "lessay_payment_transactions",
            "Payment transactions attempted, by outcome.",
            labels=["outcome"],
        )
        for outcome in ("succeeded", "failed"):
            payments.add_metric([outcome], float(model.payments[outcome]))
        yield payments
        yield GaugeMetricFamily(
            "lessay_active_sessions",
            "User sessions active now.",
            value=float(round(model.active_sessions)),
        )
        yield CounterMetricFamily(
            "lessay_lessons_started", "Lessons started.", value=float(model.lessons_started)
        )
        yield CounterMetricFamily(
            "lessay_lessons_completed", "Lessons completed.", value=float(model.lessons_completed)
        )


def render_metrics(model: DemoModel, accept: str = "") -> tuple[bytes, str]:
    """The exposition of ``model`` and its Content-Type, negotiated from ``accept``.

    Without an ``Accept`` asking for more, this is the text format 0.0.4 that
    every Prometheus server and parser reads; a scraper asking for OpenMetrics
    gets it, as from any service instrumented with ``prometheus_client``.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ModelCollector(model))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
