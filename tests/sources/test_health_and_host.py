"""The /health source against the demo backend and bad answers; the host source on this machine."""

from __future__ import annotations

import pytest

from lessay_console.config.model import ApiConfig, HostConfig
from lessay_console.demo.backend import DemoBackend
from lessay_console.sources.base import poll_once
from lessay_console.sources.health import HealthSource, health_level
from lessay_console.sources.host import HostSource
from tests.hostile_server import Answer, closed_port, scripted_server


def values(report, name: str) -> dict:
    return {s.labels: s.value for s in report.samples if s.name == name}


async def poll_health(url: str):
    source = HealthSource(ApiConfig(health_url=url, timeout=3))
    try:
        return await poll_once(source)
    finally:
        await source.close()


async def test_healthy_demo() -> None:
    with DemoBackend() as backend:
        report = await poll_health(f"{backend.url}/health")
    assert report.ok
    assert values(report, "health_status") == {(): 0.0}
    assert values(report, "health_http_status") == {(): 200.0}
    assert 0 < values(report, "health_latency_seconds")[()] < 2
    dependencies = values(report, "health_dependency_status")
    assert {dict(k)["dependency"] for k in dependencies} == {"database", "auth", "payments", "idp"}
    info = next(s for s in report.samples if s.name == "health_info")
    assert info.label("version") == "2.4.1"


async def test_a_down_service_is_a_measurement_not_a_failed_poll() -> None:
    with DemoBackend(scenario="db-exhaustion") as backend:
        backend.model.advance_to(backend.clock() + 30)  # let the scenario take hold
        report = await poll_health(f"{backend.url}/health")
    assert report.ok
    assert values(report, "health_http_status") == {(): 503.0}
    assert values(report, "health_status") == {(): 2.0}


async def test_a_page_that_is_not_json() -> None:
    with scripted_server({"/health": lambda: Answer(200, b"<html>OK</html>", "text/html")}) as (
        url,
        _,
    ):
        report = await poll_health(f"{url}/health")
    assert report.ok
    assert values(report, "health_status") == {(): 0.0}
    assert report.problems == ("HTTP 200 without a JSON health document",)


async def test_refused() -> None:
    report = await poll_health(f"http://127.0.0.1:{closed_port()}/health")
    assert report.error.kind == "connect"
    assert "Connection refused" in report.error.message


@pytest.mark.parametrize(
    ("word", "level"),
    [("ok", 0), ("pass", 0), ("degraded", 1), ("warn", 1), ("down", 2), ("fail", 2), ("?!", 2)],
)
def test_status_words(word: str, level: int) -> None:
    assert health_level(word) == level


async def test_host_measures_this_machine() -> None:
    report = await poll_once(HostSource(HostConfig(disks=("/", "/no/such/mount"))))
    assert report.ok
    assert 0 <= values(report, "host_cpu_percent")[()] <= 100
    assert 0 < values(report, "host_memory_percent")[()] <= 100
    disks = values(report, "host_disk_percent")
    assert list(disks) == [(("mount", "/"),)]
    assert len(values(report, "host_load")) == 3
    assert len(report.problems) == 1
    assert report.problems[0].startswith("disk /no/such/mount:")
