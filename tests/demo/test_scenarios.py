"""Scenarios switched on a running backend move what they should, seen over HTTP.

As the console sees them: from counter and bucket increases between scrapes.
High latency runs on the real clock, polled until a deadline (never a bare
sleep), to show a switch lands within seconds; the others drive the backend's
clock by hand, which makes them exact and instant.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from lessay_console.demo import SCENARIOS, DemoBackend, Scenario
from lessay_console.demo.logevents import ERROR_FAMILIES
from lessay_console.demo.model import STATUS_CODES
from lessay_console.demo.scenarios import COMPONENT_STATES, HEALTH_STATES, STATUS_COMPONENTS
from tests.demo.demo_support import (
    FakeClock,
    bucket_increase,
    buckets,
    histogram_quantile,
    parse_metrics,
    value,
)
from tests.helpers import await_until


class ApiP95:
    """The api p95 over the requests made since the previous call, as PromQL computes it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.previous: list[tuple[float, float]] | None = None
        self.last = float("nan")

    async def __call__(self) -> float:
        families = parse_metrics((await self.client.get("/metrics")).text)
        current = buckets(families, "lessay_http_request_duration_seconds", service="api")
        if self.previous is not None and current[-1][1] > self.previous[-1][1]:
            self.last = histogram_quantile(0.95, bucket_increase(self.previous, current))
            self.previous = current
        elif self.previous is None:
            self.previous = current
        return self.last


async def test_high_latency_raises_api_p95_and_normal_restores_it(
    backend: DemoBackend, client: httpx.AsyncClient
) -> None:
    p95 = ApiP95(client)
    assert await await_until(lambda: _below(p95, 0.2), within=5)

    response = await client.put("/demo/scenario", json={"scenario": "high-latency"})
    assert response.status_code == 200
    assert await await_until(lambda: _above(p95, 0.5), within=10)
    health = (await client.get("/health")).json()
    assert (health["status"], health["checks"]["database"]["status"]) == ("degraded", "degraded")

    backend.set_scenario("normal")
    assert await await_until(lambda: _below(p95, 0.2), within=15)


async def _above(p95: ApiP95, threshold: float) -> bool:
    return await p95() > threshold


async def _below(p95: ApiP95, threshold: float) -> bool:
    return await p95() < threshold


async def _scrape(client: httpx.AsyncClient) -> dict[str, Any]:
    return parse_metrics((await client.get("/metrics")).text)


def _increase(before: dict[str, Any], after: dict[str, Any], name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_payment_failures_fail_payments_and_flip_the_status_page(
    fake_backend: DemoBackend, fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    fake_backend.set_scenario("payment-failures")
    fake_clock.advance(10.0)  # settled: 5 time constants
    before = await _scrape(fake_client)
    fake_clock.advance(120.0)
    after = await _scrape(fake_client)
    name = "lessay_payment_transactions_total"
    failed = _increase(before, after, name, outcome="failed") / _increase(before, after, name)
    assert 0.2 <= failed <= 0.4
    errors = sum(
        _increase(before, after, "lessay_http_requests_total", service="payments", code=code)
        for code in ("500", "502", "503")
    )
    requests = _increase(before, after, "lessay_http_requests_total", service="payments")
    assert 0.2 <= errors / requests <= 0.4

    status = (await fake_client.get("/status/api/v2/status.json")).json()["status"]
    assert status == {"indicator": "major", "description": "Partial System Outage"}
    summary = (await fake_client.get("/status/api/v2/summary.json")).json()
    components = {c["name"]: c["status"] for c in summary["components"]}
    assert components["API"] == "partial_outage"
    (incident,) = summary["incidents"]
    assert incident["status"] == "investigating"
    assert "API" in [c["name"] for c in incident["components"]]
    health = (await fake_client.get("/health")).json()
    assert (health["status"], health["checks"]["payments"]["status"]) == ("degraded", "degraded")

    fake_backend.set_scenario("normal")
    summary = (await fake_client.get("/status/api/v2/summary.json")).json()
    assert (summary["status"]["indicator"], summary["incidents"]) == ("none", [])


async def test_login_failures_break_the_idp_and_auth(
    fake_backend: DemoBackend, fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    sessions = value(await _scrape(fake_client), "lessay_active_sessions")
    fake_backend.set_scenario("login-failures")

    started = time.monotonic()
    response = await fake_client.get("/idp/.well-known/openid-configuration")
    assert response.status_code == 503
    assert time.monotonic() - started >= 0.9  # answers like a timing-out upstream
    health = (await fake_client.get("/health")).json()
    assert health["status"] == "degraded"
    assert (health["checks"]["idp"]["status"], health["checks"]["auth"]["status"]) == (
        "down",
        "degraded",
    )

    fake_clock.advance(10.0)
    before = await _scrape(fake_client)
    fake_clock.advance(60.0)
    after = await _scrape(fake_client)
    upstream = sum(
        _increase(before, after, "lessay_http_requests_total", service="auth", code=code)
        for code in ("502", "503")
    )
    requests = _increase(before, after, "lessay_http_requests_total", service="auth")
    assert 0.2 <= upstream / requests <= 0.4
    assert value(after, "lessay_active_sessions") < 0.8 * sessions

    fake_backend.set_scenario("normal")
    assert (await fake_client.get("/idp/jwks.json")).status_code == 200


async def test_db_exhaustion_takes_health_down(
    fake_backend: DemoBackend, fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    fake_backend.set_scenario("db-exhaustion")
    response = await fake_client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "down"

    fake_clock.advance(15.0)
    families = await _scrape(fake_client)
    assert value(families, "lessay_db_pool_connections", state="in_use") == 100
    assert value(families, "lessay_db_pool_connections", state="idle") == 0

    fake_backend.set_scenario("normal")
    assert (await fake_client.get("/health")).status_code == 200


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario_data_is_consistent(scenario: Scenario) -> None:
    """Adding a scenario is adding data: this catches a typo in it."""
    assert scenario is SCENARIOS[scenario.name]
    assert scenario.description
    for service in ("api", "auth", "payments"):
        profile = scenario.service(service)
        assert profile.health in HEALTH_STATES
        assert profile.error_log in ERROR_FAMILIES
        assert {code for code, _ in profile.server_error_codes} <= set(STATUS_CODES)
        assert 0.0 <= profile.server_error_ratio < 1.0
    assert scenario.database_health in HEALTH_STATES
    assert scenario.idp_health in HEALTH_STATES
    assert scenario.status_indicator in ("none", "minor", "major", "critical")
    for component, state in scenario.status_components:
        assert component in STATUS_COMPONENTS
        assert state in COMPONENT_STATES
    assert (scenario.status_incident is None) == (scenario.status_indicator == "none")


def test_the_documented_scenarios_exist_in_order() -> None:
    assert list(SCENARIOS)[:4] == ["normal", "high-latency", "payment-failures", "login-failures"]
    assert {"db-exhaustion", "error-spike"} <= set(SCENARIOS)
