"""``GET /metrics``: the whole contract of DESIGN section 5, parsed as Prometheus would."""

from __future__ import annotations

import math

import httpx

from lessay_console.demo import DemoBackend
from tests.demo.demo_support import FakeClock, buckets, parse_metrics, samples, value

# (family name as the parser reports it, type, label names besides "le")
CONTRACT = {
    "lessay_http_requests": ("counter", {"service", "code"}),
    "lessay_http_request_duration_seconds": ("histogram", {"service"}),
    "lessay_db_pool_connections": ("gauge", {"state"}),
    "lessay_db_pool_max_connections": ("gauge", set()),
    "lessay_db_query_duration_seconds": ("histogram", set()),
    "lessay_payment_transactions": ("counter", {"outcome"}),
    "lessay_active_sessions": ("gauge", set()),
    "lessay_lessons_started": ("counter", set()),
    "lessay_lessons_completed": ("counter", set()),
}
SERVICES = ("api", "auth", "payments")


async def _scrape(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse_metrics(response.text)


async def test_every_series_of_the_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# HELP lessay_http_requests_total " in response.text
    families = parse_metrics(response.text)
    assert set(CONTRACT) <= set(families)
    for name, (kind, labels) in CONTRACT.items():
        family = families[name]
        assert family.type == kind, name
        assert family.documentation, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    assert {s.labels["service"] for s in samples(families, "lessay_http_requests_total")} == set(
        SERVICES
    )
    codes = {s.labels["code"] for s in samples(families, "lessay_http_requests_total")}
    assert {"200", "201", "400", "401", "404", "500", "502", "503"} <= codes
    assert {s.labels["state"] for s in samples(families, "lessay_db_pool_connections")} == {
        "in_use",
        "idle",
    }
    assert value(families, "lessay_db_pool_max_connections") == 100
    outcomes = {s.labels["outcome"] for s in samples(families, "lessay_payment_transactions_total")}
    assert outcomes == {"succeeded", "failed"}


async def test_counters_are_non_zero_after_warm_up(client: httpx.AsyncClient) -> None:
    families = await _scrape(client)
    for service in SERVICES:
        assert value(families, "lessay_http_requests_total", service=service) > 0
    assert value(families, "lessay_lessons_started_total") > 0
    assert value(families, "lessay_payment_transactions_total", outcome="succeeded") > 0
    assert 1000 < value(families, "lessay_active_sessions") < 2500


async def test_histograms_are_well_formed(client: httpx.AsyncClient) -> None:
    families = await _scrape(client)
    series = [("lessay_http_request_duration_seconds", {"service": s}) for s in SERVICES]
    series.append(("lessay_db_query_duration_seconds", {}))
    for name, labels in series:
        cumulative = buckets(families, name, **labels)
        assert len(cumulative) == 15
        assert cumulative[0][0] == 0.005 and math.isinf(cumulative[-1][0])
        counts = [count for _, count in cumulative]
        assert counts == sorted(counts), name
        assert counts[-1] == value(families, f"{name}_count", **labels)
        assert value(families, f"{name}_sum", **labels) > 0


async def test_counters_never_decrease_across_scrapes(
    fake_backend: DemoBackend, fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    previous = await _scrape(fake_client)
    for scenario in ("high-latency", "db-exhaustion", "normal"):
        fake_backend.set_scenario(scenario)
        fake_clock.advance(7.0)
        current = await _scrape(fake_client)
        for family in current.values():
            if family.type not in ("counter", "histogram"):
                continue
            for sample in family.samples:
                before = [
                    s.value
                    for s in previous[family.name].samples
                    if s.name == sample.name and s.labels == sample.labels
                ]
                assert before and sample.value >= before[0], sample
        previous = current


async def test_a_scrape_sees_the_clock_not_the_ticker(
    fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    before = value(await _scrape(fake_client), "lessay_http_requests_total")
    assert value(await _scrape(fake_client), "lessay_http_requests_total") == before
    fake_clock.advance(10.0)
    after = value(await _scrape(fake_client), "lessay_http_requests_total")
    assert 10 * 100 < after - before < 10 * 200  # ~137 requests/s across services


async def test_openmetrics_is_negotiated(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
