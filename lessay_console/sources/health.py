"""The service's `/health` endpoint: reachable, how fast, and what it says of itself.

An answer is a measurement even when it says the service is down (HTTP 503):
only a transport failure (refused, timed out) is a failed poll.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from lessay_console.config.model import ApiConfig
from lessay_console.samples import Collected, Sample, labels_of
from lessay_console.sources.http import http_client, http_failure

if TYPE_CHECKING:
    import httpx

# Body status words, best first; the index is the sample value.
HEALTH_LEVELS = ("ok", "degraded", "down")
_SYNONYMS = {
    "pass": "ok",
    "up": "ok",
    "healthy": "ok",
    "warn": "degraded",
    "fail": "down",
    "unhealthy": "down",
    "error": "down",
}


def health_level(word: object) -> int:
    """0 ok, 1 degraded, 2 down, for the status words services use (and 2 for nonsense)."""
    text = _SYNONYMS.get(str(word).lower(), str(word).lower())
    return HEALTH_LEVELS.index(text) if text in HEALTH_LEVELS else 2


class HealthSource:
    name = "health"

    def __init__(self, config: ApiConfig) -> None:
        assert config.health_url  # noqa: S101 (built only when configured)
        self.url = config.health_url
        self.interval = config.interval
        self.timeout = config.timeout
        self.verify_tls = config.verify_tls
        self._client: httpx.AsyncClient | None = None

    async def collect(self) -> Collected:
        if self._client is None:
            self._client = http_client(self.timeout, self.verify_tls)
        began = time.perf_counter()
        try:
            response = await self._client.get(self.url, headers={"Accept": "application/json"})
            body = response.content[:1_000_000]
        except Exception as error:
            raise http_failure(error, self.timeout) from None
        latency = time.perf_counter() - began
        samples = [
            Sample("health_http_status", float(response.status_code)),
            Sample("health_latency_seconds", latency),
        ]
        problems: list[str] = []
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            problems.append(f"HTTP {response.status_code} without a JSON health document")
            level = 0 if response.is_success else 2
        else:
            level = health_level(document.get("status", "down"))
            if not response.is_success:
                level = 2
            samples += _dependencies(document.get("checks"))
            info = {k: str(document[k]) for k in ("version", "node") if k in document}
            samples.append(Sample("health_info", 1.0, labels_of(info)))
        samples.append(Sample("health_status", float(level)))
        return Collected(tuple(samples), problems=tuple(problems))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _dependencies(checks: object) -> list[Sample]:
    if not isinstance(checks, dict):
        return []
    samples = []
    for name, check in checks.items():
        status = check.get("status") if isinstance(check, dict) else check
        samples.append(
            Sample(
                "health_dependency_status",
                float(health_level(status)),
                labels_of(dependency=str(name)),
            )
        )
    return samples
