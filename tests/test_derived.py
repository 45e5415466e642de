"""The guide's metrics derived from raw series, on synthetic data with known answers."""

from __future__ import annotations

import pytest

from lessay_console.derived import DERIVATIONS, View, queried
from lessay_console.samples import STALE, labels_of
from lessay_console.store import MetricStore

NOW = 1_000.0


def view(store: MetricStore, window: float = 60, staleness: float = 15) -> View:
    return View(store, NOW, window, staleness)


def counter(store: MetricStore, name: str, points: list[tuple[float, float]], **labels: str):
    for t, v in points:
        store.append(name, labels_of(labels), t, v)


def linear(start: float, per_second: float, times: range) -> list[tuple[float, float]]:
    return [(float(t), start + per_second * (t - times.start)) for t in times]


SPAN = range(int(NOW) - 60, int(NOW) + 1, 5)


def test_error_rate_is_the_worst_services_with_a_breakdown() -> None:
    store = MetricStore()
    counter(store, "lessay_http_requests_total", linear(0, 100, SPAN), service="api", code="200")
    counter(store, "lessay_http_requests_total", linear(0, 1, SPAN), service="api", code="500")
    counter(store, "lessay_http_requests_total", linear(0, 9, SPAN), service="auth", code="200")
    counter(store, "lessay_http_requests_total", linear(0, 1, SPAN), service="auth", code="503")
    counter(store, "lessay_http_requests_total", linear(0, 5, SPAN), service="auth", code="401")
    reading = DERIVATIONS["api_error_rate"](view(store))
    # auth: 1 error in 15 requests a second; 401 is a client error, not counted
    assert reading.value == pytest.approx(100 / 15)
    breakdown = dict(reading.breakdown)
    assert breakdown["api"] == pytest.approx(100 / 101)
    assert reading.detail == "worst: auth"


def test_a_counter_reset_on_one_target_does_not_disturb_the_sum() -> None:
    store = MetricStore()
    steady = linear(0, 10, SPAN)
    restarted = [(t, v if t < NOW - 30 else v - 400) for t, v in steady]  # restart mid-window
    for instance, points in (("a:1", steady), ("b:1", restarted)):
        counter(store, "lessay_lessons_started_total", points, instance=instance)
        counter(
            store,
            "lessay_lessons_completed_total",
            [(t, v / 2) for t, v in points],
            instance=instance,
        )
    reading = DERIVATIONS["lesson_completion_rate"](view(store))
    assert reading.value == pytest.approx(50, rel=0.02)


def test_latency_quantile_from_bucket_increases() -> None:
    store = MetricStore()
    # per second: 50 under 0.1 s, 40 more under 0.5 s, 10 more under 1 s
    for le, rate in (("0.1", 50), ("0.5", 90), ("1.0", 100), ("+Inf", 100)):
        counter(
            store,
            "lessay_http_request_duration_seconds_bucket",
            linear(0, rate, SPAN),
            service="api",
            le=le,
        )
        counter(
            store,
            "lessay_http_request_duration_seconds_bucket",
            linear(0, 1000, SPAN),
            service="auth",
            le=le,
        )  # another service: must not count
    p95 = DERIVATIONS["api_latency_p95"](view(store))
    assert p95.value == pytest.approx(750)  # 95th of 100: halfway through 0.5..1 s
    assert not p95.at_least
    p50 = DERIVATIONS["api_latency_p50"](view(store))
    assert p50.value == pytest.approx(100)


def test_a_quantile_in_the_inf_bucket_is_at_least_the_top_bound() -> None:
    store = MetricStore()
    for le, rate in (("0.5", 1), ("+Inf", 100)):
        counter(store, "lessay_db_query_duration_seconds_bucket", linear(0, rate, SPAN), le=le)
    reading = DERIVATIONS["db_latency_p95"](view(store))
    assert reading.value == pytest.approx(500)
    assert reading.at_least


def test_no_traffic_is_no_data_with_a_reason() -> None:
    store = MetricStore()
    counter(store, "lessay_payment_transactions_total", linear(7, 0, SPAN), outcome="succeeded")
    counter(store, "lessay_payment_transactions_total", linear(3, 0, SPAN), outcome="failed")
    reading = DERIVATIONS["payment_success_rate"](view(store))
    assert reading.value is None
    assert reading.detail == "no payment transactions in the window"


def test_a_stale_target_is_left_out_and_all_stale_is_no_data() -> None:
    store = MetricStore()
    counter(store, "lessay_active_sessions", [(NOW - 5, 100)], instance="a")
    counter(store, "lessay_active_sessions", [(NOW - 40, 500)], instance="b")  # older than 15s
    reading = DERIVATIONS["active_sessions"](view(store))
    assert reading.value == 100
    assert reading.sample_time == NOW - 5
    counter(store, "lessay_active_sessions", [(NOW - 1, STALE)], instance="a")
    assert DERIVATIONS["active_sessions"](view(store)).value is None


def test_pool_usage_and_disk_breakdowns() -> None:
    store = MetricStore()
    counter(store, "lessay_db_pool_connections", [(NOW, 30)], state="in_use")
    counter(store, "lessay_db_pool_connections", [(NOW, 10)], state="idle")
    counter(store, "lessay_db_pool_max_connections", [(NOW, 120)])
    pool = DERIVATIONS["db_pool_usage"](view(store))
    assert pool.value == pytest.approx(25)
    assert dict(pool.breakdown) == {"in_use": 30, "idle": 10, "max": 120}
    counter(store, "host_disk_percent", [(NOW, 40)], mount="/")
    counter(store, "host_disk_percent", [(NOW, 91)], mount="/var")
    disk = DERIVATIONS["disk"](view(store))
    assert (disk.value, disk.detail) == (91, "mount /var")


def test_prometheus_query_results_per_label_set() -> None:
    store = MetricStore()
    counter(store, "query:api_error_rate", [(NOW, 0.5)], service="api")
    counter(store, "query:api_error_rate", [(NOW, 12.0)], service="payments")
    reading = queried("api_error_rate")(view(store))
    assert reading.value == 12.0
    assert reading.detail == "worst: payments"
    counter(store, "query:active_sessions", [(NOW, 1800)])
    assert queried("active_sessions")(view(store)).value == 1800


def test_a_nan_from_prometheus_is_no_data() -> None:
    store = MetricStore()
    counter(store, "query:api_latency_p95", [(NOW, float("nan"))])
    reading = queried("api_latency_p95")(view(store))
    assert reading.value is None
    assert reading.detail == "no data in the window"
