"""Scraping /metrics: the demo backend as a real peer, and every bad answer a target can give."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lessay_console.config.model import ApiConfig
from lessay_console.demo.backend import DemoBackend
from lessay_console.samples import Sample
from lessay_console.sources.base import poll_once
from lessay_console.sources.exposition import CONTRACT
from lessay_console.sources.scrape import ScrapeSource
from tests.hostile_server import Answer, closed_port, scripted_server, silent_port

GOOD = b"""# TYPE lessay_active_sessions gauge
lessay_active_sessions 42
# TYPE lessay_http_requests_total counter
lessay_http_requests_total{service="api",code="200"} 10
"""


@pytest.fixture(scope="module")
def two_backends() -> Iterator[tuple[DemoBackend, DemoBackend]]:
    with DemoBackend(seed=1) as first, DemoBackend(seed=2) as second:
        yield first, second


def scrape(*urls: str, timeout: float = 2.0, max_body: int = 10 * 2**20) -> ScrapeSource:
    return ScrapeSource(ApiConfig(metrics_urls=urls, timeout=timeout), max_body=max_body)


async def collect(source: ScrapeSource):
    try:
        return await poll_once(source)
    finally:
        await source.close()


def by_name(samples: tuple[Sample, ...], name: str) -> list[Sample]:
    return [s for s in samples if s.name == name]


async def test_every_contract_series_from_the_demo(two_backends) -> None:
    report = await collect(scrape(f"{two_backends[0].url}/metrics"))
    assert report.ok, report.error
    names = {s.name for s in report.samples}
    for family, kind in CONTRACT.items():
        expected = {"counter": f"{family}_total", "gauge": family, "histogram": f"{family}_bucket"}[
            kind
        ]
        assert expected in names, expected
    instance = f"127.0.0.1:{two_backends[0].port}"
    assert all(s.label("instance") == instance for s in report.samples)


async def test_targets_are_kept_apart_by_instance(two_backends) -> None:
    urls = [f"{b.url}/metrics" for b in two_backends]
    report = await collect(scrape(*urls))
    sessions = by_name(report.samples, "lessay_active_sessions")
    assert {s.label("instance") for s in sessions} == {f"127.0.0.1:{b.port}" for b in two_backends}


async def test_one_target_down_is_a_problem_not_a_failure(two_backends) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/metrics"
    report = await collect(scrape(f"{two_backends[0].url}/metrics", dead))
    assert report.ok
    assert by_name(report.samples, "lessay_active_sessions")
    assert len(report.problems) == 1
    assert report.problems[0].startswith("cannot connect: Connection refused")
    assert report.problems[0].endswith(f"({dead.split('/')[2]})")  # host:port of the target


async def test_every_target_down_fails_the_poll() -> None:
    report = await collect(scrape(f"http://127.0.0.1:{closed_port()}/metrics"))
    assert not report.ok
    assert report.error.kind == "connect"
    assert "refused" in report.error.message.lower()


async def test_a_hung_target_is_cut_at_the_timeout() -> None:
    with silent_port() as port:
        began = time.monotonic()
        report = await collect(scrape(f"http://127.0.0.1:{port}/metrics", timeout=0.5))
    assert report.error.kind == "timeout"
    assert time.monotonic() - began < 3


@pytest.mark.parametrize(
    ("answer", "kind", "fragment"),
    [
        (Answer(200, b"<html><body>Login</body></html>", "text/html"), "parse", "HTML page"),
        (Answer(200, b"this is { not metrics"), "parse", "not the Prometheus text format"),
        (Answer(503, b"down"), "http", "HTTP 503"),
        (
            Answer(200, b'# TYPE h histogram\nh_bucket{le="1"} 3\nh_count 3\nh_sum 1\n'),
            "invalid",
            "no +Inf bucket",
        ),
        (
            Answer(
                200,
                b'# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\n'
                b'h_bucket{le="+Inf"} 5\nh_count 5\nh_sum 1\n',
            ),
            "invalid",
            "decreasing",
        ),
        (
            Answer(200, b'# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_count 6\nh_sum 1\n'),
            "invalid",
            "differs from _count",
        ),
        (Answer(200, b"# TYPE c_total counter\nc_total -1\n"), "invalid", "counter c_total is -1"),
    ],
    ids=[
        "html",
        "garbage",
        "http-error",
        "no-inf",
        "decreasing",
        "count-mismatch",
        "negative-counter",
    ],
)
async def test_a_bad_body_is_rejected_whole(answer: Answer, kind: str, fragment: str) -> None:
    body = answer.body if isinstance(answer.body, bytes) else b""
    answer.body = GOOD + body if answer.status == 200 and kind == "invalid" else answer.body
    with scripted_server({"/metrics": lambda: answer}) as (url, _):
        report = await collect(scrape(f"{url}/metrics"))
    assert not report.ok
    assert report.samples == ()  # never half a page
    assert report.error.kind == kind
    assert fragment in report.error.message


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_body_is_cut_at_the_cap(declared: bool) -> None:
    megabyte = b"# " + b"x" * (2**20 - 3) + b"\n"
    body: bytes | Iterator[bytes] = megabyte * 50 if declared else iter([megabyte] * 50)
    with scripted_server({"/metrics": lambda: Answer(200, body)}) as (url, _):
        began = time.monotonic()
        report = await collect(scrape(f"{url}/metrics", timeout=10, max_body=2**20))
    assert report.error.kind == "invalid"
    assert "cap" in report.error.message
    assert time.monotonic() - began < 5


async def test_a_contract_series_of_the_wrong_type_is_dropped_alone() -> None:
    body = GOOD.replace(
        b"# TYPE lessay_active_sessions gauge", b"# TYPE lessay_active_sessions_total counter"
    )
    body = body.replace(b"lessay_active_sessions 42", b"lessay_active_sessions_total 42")
    with scripted_server({"/metrics": lambda: Answer(200, body)}) as (url, _):
        report = await collect(scrape(f"{url}/metrics"))
    assert report.ok
    assert not by_name(report.samples, "lessay_active_sessions_total")
    assert by_name(report.samples, "lessay_http_requests_total")
    assert any(
        "lessay_active_sessions is a counter, expected a gauge" in p for p in report.problems
    )


async def test_a_token_in_the_url_never_reaches_a_message() -> None:
    url = f"http://127.0.0.1:{closed_port()}/metrics?token=SecretToken123"
    report = await collect(scrape(url, f"http://127.0.0.1:{closed_port()}/m?password=pw123456"))
    assert "SecretToken123" not in report.error.message
    assert "pw123456" not in report.error.message


async def test_no_log_line_carries_a_token(two_backends, caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs every request's full URL at INFO; the console must not pass it on."""
    caplog.set_level("DEBUG")
    url = f"{two_backends[0].url}/metrics?token=LogSecret42"
    report = await collect(scrape(url, f"http://127.0.0.1:{closed_port()}/x?token=LogSecret42"))
    assert report.ok
    assert caplog.records  # logging was on, at DEBUG
    assert not [r for r in caplog.records if "LogSecret42" in r.getMessage()]
