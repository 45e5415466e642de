"""The HTTP checks through the runner: the demo backend in each scenario, and hostile peers."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lessay_console.checks.catalog import KINDS
from lessay_console.checks.http_fetch import EXCERPT_CAP, JSON_CAP
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.checks.spec import read_check
from lessay_console.config import Config
from lessay_console.config.model import ApiConfig, EndpointConfig
from lessay_console.config.reader import Problems, TableReader
from lessay_console.demo.backend import DemoBackend
from lessay_console.demo.settings import demo_config
from tests.hostile_server import Answer, closed_port, scripted_server, silent_port

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # writes the clipboard on a terminal that obeys it
OSC52_SHOWN = "\\x1b]52;c;ZXZpbA==\\x07"


def endpoints(
    health: str | None = None,
    payments: str | None = None,
    idp: str | None = None,
    timeout: float = 2.0,
) -> Config:
    return Config(
        api=ApiConfig(health_url=health, timeout=timeout),
        payments=EndpointConfig(url=payments, timeout=timeout),
        idp=EndpointConfig(url=idp, timeout=timeout),
    )


async def check(
    kind: str, config: Config, cut_at: float | None = None, **params: Any
) -> CheckResult:
    spec = CheckSpec(kind, kind, kind, params, cut_at or KINDS[kind].timeout)
    return await run_check(spec, CheckContext(config=config))


def texts(result: CheckResult) -> Iterator[str]:
    """Every string a result carries: summary, detail, and data keys and values."""
    yield result.summary
    yield from result.detail
    pending: list[Any] = [result.data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple):
            pending += list(value)


def assert_printable(result: CheckResult) -> None:
    for text in texts(result):
        assert "\x1b" not in text and "\x07" not in text, text


def json_answer(document: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(document).encode(), "application/json")


def endless(chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
    while True:
        yield chunk


def drip() -> Iterator[bytes]:
    """A body that never ends and never pauses long enough for a read timeout."""
    while True:
        yield b" "
        time.sleep(0.05)


@contextlib.contextmanager
def raw_server(reply: bytes) -> Iterator[str]:
    """A loopback peer that answers every connection with `reply` (not HTTP) and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()


# -- the demo backend, scenario by scenario ----------------------------------
async def test_normal_scenario_passes_all_three() -> None:
    with DemoBackend() as backend:
        config = demo_config(backend)
        health = await check("http_health", config)
        payments = await check("payment_status", config)
        idp = await check("oidc", config)
    assert health.status is CheckStatus.PASS, health
    assert health.summary.startswith("HTTP 200 in ")
    assert health.summary.endswith(", reports ok")
    assert health.data["http_status"] == 200
    assert {c["name"] for c in health.data["components"]} == {"database", "auth", "payments", "idp"}
    assert any(line.startswith("GET ") and "HTTP/1.1 200 OK in" in line for line in health.detail)
    assert any('"status": "ok"' in line for line in health.detail)  # the body excerpt
    assert payments.status is CheckStatus.PASS, payments
    assert payments.summary == "none: All Systems Operational"
    assert payments.data["components"] == []
    assert payments.data["incidents"] == []
    assert idp.status is CheckStatus.PASS, idp
    assert idp.summary.startswith("discovery and JWKS OK (1 key) in ")
    assert idp.data["issuer"] == f"{backend.url}/idp"
    assert idp.data["keys"][0]["kty"] == "RSA"
    assert len(idp.data["keys"][0]["kid"]) == 16
    timings = [line for line in idp.detail if line.startswith("GET ")]
    assert len(timings) == 2  # discovery, then JWKS, each with its time
    assert all(" ms" in line for line in timings)


async def test_payment_failures_fail_on_the_status_page() -> None:
    with DemoBackend(scenario="payment-failures") as backend:
        config = demo_config(backend)
        summary = await check("payment_status", config)
        status_only = await check(
            "payment_status", config, url=f"{backend.url}/status/api/v2/status.json"
        )
        health = await check("http_health", config)
        idp = await check("oidc", config)
    assert summary.status is CheckStatus.FAIL, summary
    assert summary.summary.startswith("major: Partial System Outage")
    assert "API partial_outage" in summary.summary
    assert "Checkout degraded_performance" in summary.summary
    assert "incident: Elevated error rates on API requests" in summary.summary
    assert {"name": "API", "status": "partial_outage"} in summary.data["components"]
    assert "Dashboard" not in {c["name"] for c in summary.data["components"]}  # operational
    assert [i["name"] for i in summary.data["incidents"]] == [
        "Elevated error rates on API requests"
    ]
    assert "component API: partial_outage" in summary.detail
    # status.json has only the indicator: the verdict still follows it
    assert status_only.status is CheckStatus.FAIL, status_only
    assert status_only.data["components"] == []
    # the API says the same of itself: up, with payments degraded
    assert health.status is CheckStatus.WARN, health
    assert "reports degraded: payments degraded" in health.summary
    assert idp.status is CheckStatus.PASS


async def test_high_latency_health_reports_the_database_degraded() -> None:
    with DemoBackend(scenario="high-latency") as backend:
        health = await check("http_health", demo_config(backend))
    assert health.status is CheckStatus.WARN, health
    assert health.summary.endswith("reports degraded: database degraded")
    assert {"name": "database", "status": "degraded"} in health.data["components"]


async def test_a_down_service_fails_with_what_its_body_says() -> None:
    with DemoBackend(scenario="db-exhaustion") as backend:
        health = await check("http_health", demo_config(backend))
    assert health.status is CheckStatus.FAIL, health
    assert health.summary.startswith("HTTP 503 in ")
    assert "expected 200, reports down: database down" in health.summary
    assert health.data["reported_status"] == "down"


async def test_login_failures_the_idp_answers_503() -> None:
    backend = DemoBackend(scenario="login-failures")
    backend.idp_delay = 0.05  # the demo's IdP answers 503 after a delay: keep it short here
    with backend:
        config = demo_config(backend)
        idp = await check("oidc", config)
        health = await check("http_health", config)
    assert idp.status is CheckStatus.FAIL, idp
    assert idp.summary == "discovery document: HTTP 503"
    assert any("identity provider unavailable" in line for line in idp.detail)
    assert health.status is CheckStatus.WARN
    assert "auth degraded, idp down" in health.summary


async def test_login_failures_an_idp_slower_than_the_timeout_fails() -> None:
    with DemoBackend(scenario="login-failures") as backend:  # 503 after 1 s
        config = demo_config(backend)
        config = endpoints(idp=config.idp.url, timeout=0.3)
        began = time.monotonic()
        idp = await check("oidc", config)
    assert idp.status is CheckStatus.FAIL, idp
    assert idp.summary == "discovery document: no complete answer within 0.3s"
    assert time.monotonic() - began < 1.0


async def test_unconfigured_checks_are_skipped() -> None:
    config = Config()
    results = {
        kind: await check(kind, config) for kind in ("http_health", "payment_status", "oidc")
    }
    assert results["http_health"].summary == "no [api] health_url in the configuration"
    assert results["payment_status"].summary == "no [payments] status_url in the configuration"
    assert results["oidc"].summary == "no [idp] discovery_url in the configuration"
    assert {r.status for r in results.values()} == {CheckStatus.SKIPPED}


# -- no answer ---------------------------------------------------------------
async def test_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config = endpoints(f"{url}/health", f"{url}/summary.json", f"{url}/discovery")
    health = await check("http_health", config)
    payments = await check("payment_status", config)
    idp = await check("oidc", config)
    assert health.status is CheckStatus.FAIL, health
    assert health.summary == "cannot connect: Connection refused"
    assert health.data["failure"] == "connect"
    # an unreachable status page says nothing of the provider: the check cannot tell
    assert payments.status is CheckStatus.ERROR, payments
    assert payments.summary == "status page: cannot connect: Connection refused"
    assert idp.status is CheckStatus.FAIL, idp
    assert idp.summary == "discovery document: cannot connect: Connection refused"


async def test_a_silent_server_fails_at_the_configured_timeout() -> None:
    with silent_port() as port:
        began = time.monotonic()
        health = await check(
            "http_health", endpoints(f"http://127.0.0.1:{port}/health", timeout=0.3)
        )
        took = time.monotonic() - began
    assert health.status is CheckStatus.FAIL, health
    assert health.summary.endswith("within 0.3s")
    assert health.data["failure"] == "timeout"
    assert took < 2.0


async def test_a_silent_server_is_cut_at_the_check_timeout() -> None:
    with silent_port() as port:
        config = endpoints(f"http://127.0.0.1:{port}/health", timeout=30)
        health = await check("http_health", config, cut_at=0.3)
    assert health.status is CheckStatus.ERROR, health
    assert health.summary == "cut at its timeout (0.3s): no result"
    assert health.elapsed < 2.0


async def test_a_body_that_drips_forever_is_cut_at_the_timeout() -> None:
    with scripted_server({"/health": lambda: Answer(200, drip(), length=False)}) as (url, _):
        health = await check("http_health", endpoints(f"{url}/health", timeout=0.5))
    assert health.status is CheckStatus.FAIL, health
    assert health.summary == "no complete answer within 0.5s"


async def test_broken_http_fails() -> None:
    with raw_server(b"HELLO FROM NOT HTTP\r\n\r\n") as url:
        health = await check("http_health", endpoints(f"{url}/health"))
    assert health.status is CheckStatus.FAIL, health
    assert health.summary.startswith("broken HTTP answer")


# -- health: what the answer says ---------------------------------------------
async def test_slower_than_max_latency_warns() -> None:
    def slow() -> Answer:
        time.sleep(0.2)  # the peer's behaviour under test: a slow answer
        return json_answer({"status": "ok"})

    with scripted_server({"/health": slow}) as (url, _):
        health = await check("http_health", endpoints(f"{url}/health"), max_latency=0.1)
        relaxed = await check("http_health", endpoints(f"{url}/health"), max_latency=5.0)
    assert health.status is CheckStatus.WARN, health
    assert "slower than the 100 ms allowed" in health.summary
    assert health.data["latency_ms"] >= 200
    assert relaxed.status is CheckStatus.PASS, relaxed


async def test_another_status_than_expected_fails_and_a_redirect_says_where() -> None:
    routes = {
        "/health": lambda: Answer(200, b"fine"),
        "/moved": lambda: Answer(302, b"", extra_headers={"Location": "/elsewhere"}),
    }
    with scripted_server(routes) as (url, seen):
        unexpected = await check("http_health", endpoints(f"{url}/health"), expect_status=204)
        moved = await check("http_health", endpoints(f"{url}/moved"))
    assert unexpected.status is CheckStatus.FAIL
    assert unexpected.summary.startswith("HTTP 200 in ")
    assert unexpected.summary.endswith("expected 204")
    assert moved.status is CheckStatus.FAIL
    assert any("(Location: /elsewhere)" in line for line in moved.detail)
    assert len(seen) == 2  # the redirect was not followed


async def test_a_plain_text_body_is_shown_as_an_excerpt() -> None:
    body = b"all good\n" * 100
    with scripted_server({"/health": lambda: Answer(200, body)}) as (url, _):
        health = await check("http_health", endpoints(f"{url}/health"))
    assert health.status is CheckStatus.PASS, health
    assert health.summary.startswith("HTTP 200 in ")
    assert "reports" not in health.summary  # not JSON: the status alone judges
    assert "body (900 bytes):" in health.detail
    assert health.detail.count("  all good") == 20
    assert "  … 80 more lines" in health.detail


async def test_a_huge_health_body_is_read_up_to_its_cap_only() -> None:
    routes = {
        "/endless": lambda: Answer(200, endless(), length=False),
        "/long": lambda: Answer(200, b"y" * (2 * EXCERPT_CAP)),
    }
    with scripted_server(routes) as (url, _):
        endless_result = await check("http_health", endpoints(f"{url}/endless"))
        long_result = await check("http_health", endpoints(f"{url}/long"))
    for result in (endless_result, long_result):
        assert result.status is CheckStatus.PASS, result
        assert result.data["body_bytes_read"] == EXCERPT_CAP
        assert result.data["body_complete"] is False
        assert f"body (first {EXCERPT_CAP:,} bytes, the rest not read):" in result.detail
        assert max(len(line) for line in result.detail) < 300  # the excerpt is line-cut
        assert result.elapsed < 5


async def test_escapes_in_a_health_body_come_out_visible() -> None:
    document = {"status": f"ok{OSC52}", "checks": {f"db{OSC52}": {"status": "down"}}}
    routes = {
        "/json": lambda: json_answer(document),
        "/text": lambda: Answer(200, f"hello {OSC52} world\n\x1b[2J".encode()),
    }
    with scripted_server(routes) as (url, _):
        as_json = await check("http_health", endpoints(f"{url}/json"))
        as_text = await check("http_health", endpoints(f"{url}/text"))
    for result in (as_json, as_text):
        assert_printable(result)
    assert as_json.status is CheckStatus.FAIL  # an unknown status word reads as down
    assert OSC52_SHOWN in as_json.summary
    assert {"name": f"db{OSC52_SHOWN}", "status": "down"} in as_json.data["components"]
    assert f"  hello {OSC52_SHOWN} world" in as_text.detail
    assert "  \\x1b[2J" in as_text.detail


# -- payment status page: malformed answers -----------------------------------
STATUS_OK = {"status": {"indicator": "none", "description": "All Systems Operational"}}


@pytest.mark.parametrize(
    ("answer", "summary"),
    [
        (Answer(200, b"<html>status</html>", "text/html"), "status page is not JSON"),
        (json_answer(["status"]), "status page is a JSON list, not an object"),
        (json_answer({"page": {}}), "the status page answer has no status.indicator"),
        (
            json_answer({"status": {"indicator": "purple"}}),
            "status.indicator is 'purple', not one of none, minor, maintenance, major, critical",
        ),
        (
            json_answer({**STATUS_OK, "components": {"API": "ok"}}),
            "components is a dict, not a list",
        ),
        (
            json_answer({**STATUS_OK, "components": [{"name": "API"}]}),
            "components[0] has no status",
        ),
        (json_answer({**STATUS_OK, "incidents": ["down"]}), "incidents[0] is not an object"),
        (Answer(200, b"[" * 200_000, "application/json"), "status page is not JSON"),
        (json_answer(STATUS_OK, status=500), "status page: HTTP 500"),
    ],
)
async def test_a_malformed_status_page_is_an_error_saying_what(
    answer: Answer, summary: str
) -> None:
    with scripted_server({"/summary.json": lambda: answer}) as (url, _):
        result = await check("payment_status", endpoints(payments=f"{url}/summary.json"))
    assert result.status is CheckStatus.ERROR, result
    assert result.summary.startswith(summary), result.summary


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, endless(), "application/json", length=False),
        Answer(200, b" " * (JSON_CAP + 1), "application/json"),
    ],
    ids=["endless", "declared"],
)
async def test_a_status_page_over_the_cap_is_an_error(answer: Answer) -> None:
    with scripted_server({"/summary.json": lambda: answer}) as (url, _):
        result = await check("payment_status", endpoints(payments=f"{url}/summary.json"))
    assert result.status is CheckStatus.ERROR, result
    assert result.summary == "status page is over the 1 MiB cap: not read"
    assert result.elapsed < 5


async def test_minor_warns_and_resolved_incidents_are_left_out() -> None:
    page = {
        "status": {"indicator": "minor", "description": "Minor Service Outage"},
        "components": [
            {"name": "API", "status": "operational"},
            {"name": "Webhooks", "status": "degraded_performance"},
        ],
        "incidents": [
            {"name": "Old outage", "status": "resolved", "impact": "major"},
            {"name": f"Webhook delays{OSC52}", "status": "monitoring", "impact": "minor"},
        ],
        "scheduled_maintenances": [{"name": "Database upgrade", "status": "in_progress"}],
    }
    with scripted_server({"/summary.json": lambda: json_answer(page)}) as (url, _):
        result = await check("payment_status", endpoints(payments=f"{url}/summary.json"))
    assert result.status is CheckStatus.WARN, result
    assert result.summary == (
        "minor: Minor Service Outage · Webhooks degraded_performance"
        f" · incident: Webhook delays{OSC52_SHOWN}"
    )
    assert [i["name"] for i in result.data["incidents"]] == [f"Webhook delays{OSC52_SHOWN}"]
    assert result.data["maintenances"] == ["Database upgrade"]
    assert "maintenance in progress: Database upgrade" in result.detail
    assert_printable(result)


# -- identity provider: malformed documents -----------------------------------
def discovery(base: str, **changes: Any) -> dict[str, Any]:
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks.json",
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


KEY = {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}


async def run_oidc(discovery_changes: dict[str, Any], jwks: Answer) -> CheckResult:
    base: list[str] = []
    routes = {
        "/.well-known/openid-configuration": lambda: json_answer(
            discovery(base[0], **discovery_changes)
        ),
        "/jwks.json": lambda: jwks,
    }
    with scripted_server(routes) as (url, _):
        base.append(url)
        return await check("oidc", endpoints(idp=f"{url}/.well-known/openid-configuration"))


async def test_oidc_passes_with_keys_and_times_each_fetch() -> None:
    result = await run_oidc({}, json_answer({"keys": [KEY, {**KEY, "kid": "k2"}]}))
    assert result.status is CheckStatus.PASS, result
    assert result.summary.startswith("discovery and JWKS OK (2 keys) in ")
    assert [k["kid"] for k in result.data["keys"]] == ["k1", "k2"]
    assert "key kid=k1 kty=RSA alg=RS256 use=sig" in result.detail
    assert result.data["discovery_ms"] > 0 and result.data["jwks_ms"] > 0


@pytest.mark.parametrize(
    ("changes", "jwks", "status", "summary"),
    [
        (
            {"jwks_uri": None, "token_endpoint": None},
            json_answer({"keys": [KEY]}),
            CheckStatus.FAIL,
            "discovery document lacks jwks_uri, token_endpoint",
        ),
        (
            {"jwks_uri": "file:///etc/passwd"},
            json_answer({"keys": [KEY]}),
            CheckStatus.FAIL,
            "discovery document's jwks_uri 'file:///etc/passwd' is not an http(s) URL",
        ),
        ({}, json_answer({"keys": []}), CheckStatus.FAIL, "JWKS has an empty keys list"),
        ({}, json_answer({"keys": "k1"}), CheckStatus.FAIL, "JWKS has no keys list"),
        ({}, json_answer({"keys": [{"kid": "k1"}]}), CheckStatus.FAIL, "JWKS keys[0] has no kty"),
        ({}, json_answer({"keys": [{"kty": "RSA"}]}), CheckStatus.WARN, "JWKS keys[0] has no kid"),
        ({}, Answer(200, b"{not json", "application/json"), CheckStatus.FAIL, "JWKS is not JSON"),
        ({}, json_answer({"keys": [KEY]}, status=404), CheckStatus.FAIL, "JWKS: HTTP 404"),
        (
            {},
            Answer(200, endless(), "application/json", length=False),
            CheckStatus.ERROR,
            "JWKS is over the 1 MiB cap",
        ),
        (
            {"issuer": "https://idp.example.invalid"},  # never fetched: only compared
            json_answer({"keys": [KEY]}),
            CheckStatus.WARN,
            "issuer https://idp.example.invalid is not the discovery URL's prefix",
        ),
    ],
)
async def test_oidc_says_which_document_and_what(
    changes: dict[str, Any], jwks: Answer, status: CheckStatus, summary: str
) -> None:
    result = await run_oidc(changes, jwks)
    assert result.status is status, result
    assert result.summary.startswith(summary), result.summary


async def test_a_discovery_document_that_is_not_json_fails() -> None:
    page = Answer(200, f"<html>login {OSC52}</html>".encode(), "text/html")
    with scripted_server({"/discovery": lambda: page}) as (url, _):
        result = await check("oidc", endpoints(idp=f"{url}/discovery"))
    assert result.status is CheckStatus.FAIL, result
    assert result.summary.startswith("discovery document is not JSON")
    assert f"  <html>login {OSC52_SHOWN}</html>" in result.detail
    assert_printable(result)


# -- parameters as a symptom file gives them ---------------------------------
async def test_parameters_read_from_a_file_are_used() -> None:
    with scripted_server({"/ready": lambda: Answer(204, b"")}) as (url, seen):
        problems = Problems("symptoms.toml")
        table = {"kind": "http_health", "url": f"{url}/ready", "expect_status": 204}
        spec = read_check(TableReader({**table, "max_latency": "250ms"}, ("check",), problems), "c")
        assert problems.items == []
        assert spec is not None
        assert spec.params["max_latency"] == 0.25
        result = await run_check(spec, CheckContext(config=Config()))  # no [api] needed
    assert result.status is CheckStatus.PASS, result
    assert result.summary.startswith("HTTP 204 in ")
    assert "body: empty" in result.detail
    assert len(seen) == 1
