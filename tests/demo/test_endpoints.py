"""Every endpoint of the demo backend, over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

import httpx

from lessay_console.demo import SCENARIOS, DemoBackend


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_index_lists_endpoints_and_files(
    backend: DemoBackend, client: httpx.AsyncClient
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    index = response.json()
    assert index["name"] == "lessay-demo-backend"
    assert index["scenario"] == "normal"
    assert "GET /metrics" in index["endpoints"]
    assert "POST /fleet/deploy" in index["endpoints"]
    assert index["data_dir"] == str(backend.data_dir)
    assert index["logs"] == {name: str(path) for name, path in backend.log_paths.items()}
    assert index["backup_dir"] == str(backend.backup_dir)


async def test_health_reports_checks(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["version"] == "2.4.1"
    assert health["node"].startswith("api-")
    assert health["uptime_seconds"] >= 300  # the warm-up counts as uptime
    assert datetime.fromisoformat(health["time"]).utcoffset().total_seconds() == 0
    assert set(health["checks"]) == {"database", "auth", "payments", "idp"}
    for check in health["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] > 0


async def test_status_page_is_statuspage_v2(client: httpx.AsyncClient) -> None:
    status = (await client.get("/status/api/v2/status.json")).json()
    assert status["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert {"id", "name", "url", "updated_at"} <= set(status["page"])
    summary = (await client.get("/status/api/v2/summary.json")).json()
    assert summary["status"]["indicator"] == "none"
    assert summary["incidents"] == []
    assert {c["name"] for c in summary["components"]} >= {"API", "Checkout"}
    assert {c["status"] for c in summary["components"]} == {"operational"}


async def test_oidc_discovery_and_jwks(backend: DemoBackend, client: httpx.AsyncClient) -> None:
    discovery = (await client.get("/idp/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == f"{backend.url}/idp"
    assert discovery["jwks_uri"] == f"{backend.url}/idp/jwks.json"
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
        assert discovery[key].startswith(f"{backend.url}/idp/")
    assert "code" in discovery["response_types_supported"]
    assert discovery["subject_types_supported"] == ["public"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]

    jwks = (await client.get(discovery["jwks_uri"].removeprefix(backend.url))).json()
    (key,) = jwks["keys"]
    assert {key["kty"], key["use"], key["alg"], key["e"]} == {"RSA", "sig", "RS256", "AQAB"}
    assert key["kid"]
    modulus = int.from_bytes(_b64url_decode(key["n"]), "big")
    assert modulus.bit_length() == 2048
    assert modulus % 2 == 1
    assert "=" not in key["n"]


async def test_jwks_is_deterministic_per_seed(make_backend: Callable[..., DemoBackend]) -> None:
    keys = []
    for seed in (5, 5, 6):
        backend = make_backend(seed=seed)
        async with httpx.AsyncClient(base_url=backend.url) as http:
            keys.append((await http.get("/idp/jwks.json")).json()["keys"][0]["n"])
    assert keys[0] == keys[1] != keys[2]


async def test_scenario_get_and_switch(backend: DemoBackend, client: httpx.AsyncClient) -> None:
    current = (await client.get("/demo/scenario")).json()
    assert current["scenario"] == "normal"
    assert current["available"] == list(SCENARIOS)
    datetime.fromisoformat(current["since"])

    response = await client.put("/demo/scenario", json={"scenario": "high-latency"})
    assert response.status_code == 200
    assert response.json()["scenario"] == "high-latency"
    assert backend.scenario == "high-latency"
    assert response.json()["since"] > current["since"]

    response = await client.post("/demo/scenario", json={"scenario": "normal"})
    assert response.status_code == 200
    assert backend.scenario == "normal"


async def test_scenario_switch_refuses_bad_input(
    backend: DemoBackend, client: httpx.AsyncClient
) -> None:
    for body in ({"scenario": "meltdown"}, {"name": "normal"}, ["normal"]):
        response = await client.put("/demo/scenario", json=body)
        assert response.status_code == 400
        assert "high-latency" in response.json()["error"]  # the valid names are listed
    response = await client.put("/demo/scenario", content=b"{not json")
    assert response.status_code == 400
    assert "invalid JSON" in response.json()["error"]
    assert backend.scenario == "normal"


async def test_unknown_path_and_wrong_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert "error" in response.json()
    response = await client.post("/metrics")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    response = await client.delete("/demo/scenario")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT"


async def test_head_answers_headers_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/health")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


async def test_query_strings_are_ignored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health?verbose=1")).status_code == 200


async def test_keep_alive_serves_many_requests_on_one_connection(client: httpx.AsyncClient) -> None:
    for _ in range(20):
        assert (await client.get("/health")).status_code == 200
