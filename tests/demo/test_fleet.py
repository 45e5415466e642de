"""The simulated fleet: canary stages, rollbacks, and the deploy endpoint."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from lessay_console.demo.fleet import (
    DEPLOY_SECONDS,
    DRAIN_SECONDS,
    MAX_UNAVAILABLE,
    DeploymentRejectedError,
    Fleet,
    parse_deploy_request,
)
from tests.demo.demo_support import FakeClock

BATCH = DRAIN_SECONDS + DEPLOY_SECONDS


@pytest.mark.parametrize(
    ("percent", "nodes"), [(10, 1), (25, 3), (50, 5), (70, 7), (99.9, 10), (100, 10), (0.1, 1)]
)
def test_percent_is_a_cumulative_node_count(percent: float, nodes: int) -> None:
    fleet = Fleet()
    deployment = fleet.deploy("2.5.0", percent, now=0.0)
    assert deployment.target_nodes == nodes
    fleet.update(100.0)
    assert fleet.versions().get("2.5.0") == nodes


def test_stages_move_only_the_missing_nodes_in_name_order() -> None:
    fleet = Fleet()
    assert fleet.deploy("2.5.0", 10, now=0.0).nodes == ["api-01"]
    fleet.update(BATCH)
    assert fleet.deploy("2.5.0", 25, now=10.0).nodes == ["api-02", "api-03"]
    fleet.update(10.0 + BATCH)
    assert fleet.deploy("2.5.0", 25, now=20.0).nodes == []  # already there
    assert fleet.deployment is not None and fleet.deployment.state == "completed"


def test_the_same_call_with_the_old_version_rolls_back() -> None:
    fleet = Fleet()
    fleet.deploy("2.5.0", 25, now=0.0)
    fleet.update(BATCH)
    rollback = fleet.deploy("2.4.1", 100, now=10.0)
    assert rollback.nodes == ["api-01", "api-02", "api-03"]
    assert rollback.previous_versions == dict.fromkeys(rollback.nodes, "2.5.0")
    fleet.update(10.0 + BATCH)
    assert fleet.versions() == {"2.4.1": 10}


def test_a_node_drains_then_deploys_then_serves_the_new_version() -> None:
    fleet = Fleet()
    fleet.deploy("2.5.0", 10, now=0.0)
    node = fleet.nodes[0]
    phases = []
    for t in (0.0, 0.5, DRAIN_SECONDS, BATCH - 0.01, BATCH):
        fleet.update(t)
        phases.append((node.status, node.serving, node.version))
    assert phases == [
        ("draining", False, "2.4.1"),
        ("draining", False, "2.4.1"),
        ("deploying", False, "2.4.1"),
        ("deploying", False, "2.4.1"),
        ("ready", True, "2.5.0"),
    ]


def test_a_full_rollout_keeps_most_nodes_serving() -> None:
    fleet = Fleet()
    deployment = fleet.deploy("2.5.0", 100, now=0.0)
    t = 0.0
    while fleet.in_progress:
        assert sum(not node.serving for node in fleet.nodes) <= MAX_UNAVAILABLE
        t += 0.25
        fleet.update(t)
    assert deployment.completed_at == 4 * BATCH  # 10 nodes in batches of 3
    assert fleet.versions() == {"2.5.0": 10}


def test_only_one_deployment_at_a_time() -> None:
    fleet = Fleet()
    fleet.deploy("2.5.0", 10, now=0.0)
    with pytest.raises(DeploymentRejectedError) as refused:
        fleet.deploy("2.5.0", 50, now=1.0)
    assert refused.value.status == 409


def test_round_robin_over_serving_nodes_shows_the_canary() -> None:
    fleet = Fleet()
    fleet.deploy("2.5.0", 10, now=0.0)
    fleet.update(BATCH)
    seen = Counter(fleet.next_serving_node().version for _ in range(100))
    assert seen == {"2.4.1": 90, "2.5.0": 10}


@pytest.mark.parametrize(
    "body",
    [
        {"version": "2.5.0", "percent": 0},
        {"version": "2.5.0", "percent": 101},
        {"version": "2.5.0", "percent": "10"},
        {"version": "2.5.0", "percent": True},
        {"version": "2.5.0"},
        {"version": "latest", "percent": 10},
        {"version": 2, "percent": 10},
        ["2.5.0", 10],
    ],
)
def test_bad_deploy_requests_are_refused(body: object) -> None:
    with pytest.raises(DeploymentRejectedError) as refused:
        parse_deploy_request(body)
    assert refused.value.status == 400


def _phases(fleet: dict[str, object]) -> dict[str, tuple[str, str, bool]]:
    nodes = fleet["nodes"]
    assert isinstance(nodes, list)
    return {n["name"]: (n["status"], n["version"], n["serving"]) for n in nodes}


async def test_deploy_over_http_canary_then_everything(
    fake_client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    fleet = (await fake_client.get("/fleet")).json()
    assert fleet["versions"] == {"2.4.1": 10}
    assert fleet["deployment"] is None
    assert [n["name"] for n in fleet["nodes"]] == [f"api-{i:02d}" for i in range(1, 11)]

    response = await fake_client.post("/fleet/deploy", json={"version": "2.5.0", "percent": 10})
    assert response.status_code == 202
    assert _phases(response.json())["api-01"] == ("draining", "2.4.1", False)
    assert response.json()["deployment"]["state"] == "in_progress"

    refused = await fake_client.post("/fleet/deploy", json={"version": "2.5.0", "percent": 25})
    assert refused.status_code == 409
    assert "in progress" in refused.json()["error"]

    fake_clock.advance(DRAIN_SECONDS)
    assert _phases((await fake_client.get("/fleet")).json())["api-01"] == (
        "deploying",
        "2.4.1",
        False,
    )
    fake_clock.advance(DEPLOY_SECONDS)
    fleet = (await fake_client.get("/fleet")).json()
    assert _phases(fleet)["api-01"] == ("ready", "2.5.0", True)
    assert fleet["versions"] == {"2.4.1": 9, "2.5.0": 1}
    assert fleet["deployment"]["state"] == "completed"

    versions = Counter([(await fake_client.get("/health")).json()["version"] for _ in range(20)])
    assert versions == {"2.4.1": 18, "2.5.0": 2}

    response = await fake_client.post("/fleet/deploy", json={"version": "2.5.0", "percent": 100})
    assert response.status_code == 202
    assert response.json()["deployment"]["nodes"] == [f"api-{i:02d}" for i in range(2, 11)]
    fake_clock.advance(3 * BATCH)
    fleet = (await fake_client.get("/fleet")).json()
    assert fleet["versions"] == {"2.5.0": 10}
    assert {n["status"] for n in fleet["nodes"]} == {"ready"}


async def test_deploy_over_http_refuses_bad_input(fake_client: httpx.AsyncClient) -> None:
    for body in ({"version": "2.5.0", "percent": 0}, {"version": "", "percent": 10}):
        response = await fake_client.post("/fleet/deploy", json=body)
        assert response.status_code == 400
        assert response.json()["error"]
    response = await fake_client.post("/fleet/deploy", content=b"percent=10")
    assert response.status_code == 400
    assert (await fake_client.get("/fleet")).json()["deployment"] is None
