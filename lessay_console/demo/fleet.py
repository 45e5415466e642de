"""The simulated fleet of API nodes the upgrade runbook deploys to.

Ten nodes, ``api-01`` to ``api-10``. A deployment names a version and a
cumulative percentage: nodes not on that version are moved, in name order,
until at least ``ceil(percent x 10 / 100)`` run it, so 10, 25, 50 and 100 are
the canary stages and the same call with the old version is a rollback. Each
moved node drains (1 s, out of rotation), deploys (2 s), then serves the new
version. At most :data:`MAX_UNAVAILABLE` nodes are out of rotation at once, as
a rolling update with ``maxUnavailable`` does, so a 100 % deployment never
takes the whole fleet down. Pure state driven by the model's clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FLEET_SIZE = 10
INITIAL_VERSION = "2.4.1"
DRAIN_SECONDS = 1.0
DEPLOY_SECONDS = 2.0
#: Nodes out of rotation at once (30 % of the fleet).
MAX_UNAVAILABLE = 3

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")


class DeploymentRejectedError(Exception):
    """A deploy request that cannot start; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Node:
    """One API node."""

    name: str
    version: str
    status: str = "ready"
    """``ready``, ``draining`` or ``deploying``."""
    serving: bool = True


@dataclass
class Deployment:
    """One deploy request and the nodes it moves, in the order it moves them."""

    version: str
    percent: float
    target_nodes: int
    nodes: list[str]
    previous_versions: dict[str, str]
    started_at: float
    completed_at: float | None = None
    state: str = "in_progress"
    batches: list[list[str]] = field(default_factory=list)


def parse_deploy_request(body: Any) -> tuple[str, float]:
    """Validate a ``POST /fleet/deploy`` body; :class:`DeploymentRejectedError` (400) if bad."""
    if not isinstance(body, Mapping):
        raise DeploymentRejectedError(
            400, 'expected a JSON object {"version": ..., "percent": ...}'
        )
    version = body.get("version")
    percent = body.get("percent")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise DeploymentRejectedError(400, f"bad version {version!r}; expected e.g. '2.5.0'")
    # bool is an int subclass; true/false is not a percentage.
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise DeploymentRejectedError(
            400, f"bad percent {percent!r}; expected a number in (0, 100]"
        )
    if not 0 < percent <= 100:
        raise DeploymentRejectedError(
            400, f"bad percent {percent!r}; expected a number in (0, 100]"
        )
    return version, float(percent)


class Fleet:
    """The nodes and the current (or last) deployment."""

    def __init__(self, size: int = FLEET_SIZE, version: str = INITIAL_VERSION) -> None:
        self.nodes = [Node(name=f"api-{i:02d}", version=version) for i in range(1, size + 1)]
        self.deployment: Deployment | None = None
        self._cursor = 0

    @property
    def in_progress(self) -> bool:
        """Whether a deployment is still moving nodes."""
        return self.deployment is not None and self.deployment.state == "in_progress"

    def deploy(self, version: str, percent: float, now: float) -> Deployment:
        """Start moving nodes to ``version``; 409 if a deployment is in progress."""
        self.update(now)
        current = self.deployment
        if current is not None and current.state == "in_progress":
            raise DeploymentRejectedError(
                409, f"deployment of {current.version} is in progress; wait for it to end"
            )
        # The epsilon keeps float noise (e.g. 70 x 10 / 100) from adding a node.
        target = math.ceil(percent * len(self.nodes) / 100 - 1e-9)
        have = sum(1 for node in self.nodes if node.version == version)
        moving = [node for node in self.nodes if node.version != version][: max(0, target - have)]
        batches = [
            [node.name for node in moving[i : i + MAX_UNAVAILABLE]]
            for i in range(0, len(moving), MAX_UNAVAILABLE)
        ]
        self.deployment = Deployment(
            version=version,
            percent=percent,
            target_nodes=target,
            nodes=[node.name for node in moving],
            previous_versions={node.name: node.version for node in moving},
            started_at=now,
            batches=batches,
        )
        self.update(now)
        return self.deployment

    def update(self, now: float) -> None:
        """Move every node of the deployment to its phase at time ``now``."""
        deployment = self.deployment
        if deployment is None or deployment.state != "in_progress":
            return
        by_name = {node.name: node for node in self.nodes}
        batch_seconds = DRAIN_SECONDS + DEPLOY_SECONDS
        for index, batch in enumerate(deployment.batches):
            elapsed = now - (deployment.started_at + index * batch_seconds)
            for name in batch:
                node = by_name[name]
                if elapsed < 0:
                    node.status, node.serving = "ready", True
                elif elapsed < DRAIN_SECONDS:
                    node.status, node.serving = "draining", False
                elif elapsed < batch_seconds:
                    node.status, node.serving = "deploying", False
                else:
                    node.status, node.serving = "ready", True
                    node.version = deployment.version
        if all(by_name[name].version == deployment.version for name in deployment.nodes):
            deployment.state = "completed"
            deployment.completed_at = (
                deployment.started_at + len(deployment.batches) * batch_seconds
            )

    def next_serving_node(self) -> Node:
        """Round-robin over the nodes in rotation, as a load balancer spreads requests."""
        serving = [node for node in self.nodes if node.serving] or self.nodes
        node = serving[self._cursor % len(serving)]
        self._cursor += 1
        return node

    def versions(self) -> dict[str, int]:
        """How many nodes run each version."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.version] = counts.get(node.version, 0) + 1
        return counts

    def to_json(self, to_wall_iso: Callable[[float], str]) -> dict[str, Any]:
        """The ``GET /fleet`` body; ``to_wall_iso`` turns model time into an ISO timestamp."""
        deployment = self.deployment
        deployment_json: dict[str, Any] | None = None
        if deployment is not None:
            deployment_json = {
                "version": deployment.version,
                "percent": deployment.percent,
                "target_nodes": deployment.target_nodes,
                "nodes": list(deployment.nodes),
                "previous_versions": dict(deployment.previous_versions),
                "state": deployment.state,
                "started_at": to_wall_iso(deployment.started_at),
                "completed_at": (
                    None
                    if deployment.completed_at is None
                    else to_wall_iso(deployment.completed_at)
                ),
            }
        return {
            "nodes": [
                {
                    "name": node.name,
                    "version": node.version,
                    "status": node.status,
                    "serving": node.serving,
                }
                for node in self.nodes
            ],
            "versions": self.versions(),
            "deployment": deployment_json,
        }
