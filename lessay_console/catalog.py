"""The metrics the console watches: the guide's sections 1.1 and 1.2, one entry each.

Names here are the keys of `[thresholds.NAME]` in the configuration and of
every metric the store, rules and screens handle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a metric is, independent of where its samples come from."""

    name: str
    title: str
    unit: str  # "%", "ms", "" (a count)
    description: str


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("cpu", "CPU", "%", "CPU usage of the host the console runs on"),
        MetricSpec("memory", "Memory", "%", "memory in use on the host"),
        MetricSpec("disk", "Disk", "%", "space used on the fullest watched mount"),
        MetricSpec("api_latency_p50", "API p50", "ms", "median API response time"),
        MetricSpec("api_latency_p95", "API p95", "ms", "95th percentile API response time"),
        MetricSpec("api_latency_p99", "API p99", "ms", "99th percentile API response time"),
        MetricSpec("api_error_rate", "Error rate", "%", "share of requests answered 5xx"),
        MetricSpec("db_pool_usage", "DB pool", "%", "database connections in use of the maximum"),
        MetricSpec("db_latency_p95", "DB p95", "ms", "95th percentile database query time"),
        MetricSpec(
            "payment_success_rate", "Pay success", "%", "payment transactions that succeeded"
        ),
        MetricSpec("active_sessions", "Sessions", "", "active user sessions"),
        MetricSpec("lesson_completion_rate", "Lessons done", "%", "lessons completed of started"),
        MetricSpec("api_health", "API health", "", "what /health says: 0 ok, 1 degraded, 2 down"),
        MetricSpec("pg_connections", "PG conns", "%", "PostgreSQL connections of max_connections"),
        MetricSpec(
            "pg_probe_latency_p95", "PG probe p95", "ms", "95th percentile probe query time"
        ),
        MetricSpec("pg_longest_query", "PG longest", "s", "age of the longest running query"),
        MetricSpec("pg_lock_waits", "PG lock waits", "", "sessions waiting on a lock"),
        MetricSpec("pg_idle_in_transaction", "PG idle in tx", "", "sessions idle in transaction"),
        MetricSpec(
            "backups", "Backups", "", "worst backup kind against the schedule: 0 ok, 1 warn, 2 crit"
        ),
    )
}
