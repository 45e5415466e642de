"""The `http_health` check: the API's health endpoint, its status, latency and body.

The status must be the one expected and the answer come within max_latency;
where the body is JSON with a `status` (and per-component `checks`, or Spring's
`components`), what the service says of itself is judged too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lessay_console.checks.http_fetch import (
    EXCERPT_CAP,
    NO_ANSWER,
    Fetched,
    excerpt,
    fetch,
    format_ms,
)
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.samples import SourceFailure
from lessay_console.sources.health import health_level
from lessay_console.sources.http import http_client


async def http_health(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    p = HTTP_HEALTH.with_defaults(params)
    url = p["url"] or ctx.config.api.health_url
    if not url:
        return Outcome.skipped("no [api] health_url in the configuration")
    max_latency = p["max_latency"]
    expected = int(p["expect_status"])
    within = ctx.config.api.timeout
    async with http_client(within, ctx.config.api.verify_tls) as client:
        try:
            fetched = await fetch(client, url, EXCERPT_CAP, within)
        except SourceFailure as failure:
            status = CheckStatus.FAIL if failure.kind in NO_ANSWER else CheckStatus.ERROR
            detail = (f"GET {url}", f"{failure.kind}: {failure.message}")
            return Outcome(status, failure.message, detail, {"url": url, "failure": failure.kind})

    reported = reported_health(fetched)
    status, summary = _health_verdict(fetched, reported, expected, max_latency)
    data = {
        "url": url,
        "http_status": fetched.status,
        "latency_ms": round(fetched.seconds * 1000, 1),
        "body_bytes_read": len(fetched.body),
        "body_complete": fetched.complete,
        **reported.data(),
    }
    detail = (fetched.timing(), *reported.lines(), *excerpt(fetched))
    return Outcome(status, summary, detail, data)


def _health_verdict(
    fetched: Fetched, reported: ReportedHealth, expected: int, max_latency: float
) -> tuple[CheckStatus, str]:
    took = f"HTTP {fetched.status} in {format_ms(fetched.seconds)}"
    says = reported.clause()
    if fetched.status != expected:
        return CheckStatus.FAIL, f"{took}, expected {expected}{says}"
    if reported.level == 2:  # the service answers, and says it is down
        return CheckStatus.FAIL, took + says
    if fetched.seconds > max_latency:
        return CheckStatus.WARN, f"{took}: slower than the {format_ms(max_latency)} allowed{says}"
    if reported.level == 1:
        return CheckStatus.WARN, took + says
    return CheckStatus.PASS, took + says


@dataclass(frozen=True)
class ReportedHealth:
    """What a JSON health body says of the service and its components, if anything."""

    status: str | None = None
    level: int | None = None  # 0 ok, 1 degraded, 2 down, as the health source reads words
    components: tuple[tuple[str, str], ...] = ()  # (name, status word), every one

    def clause(self) -> str:
        """ ", reports degraded: database degraded, idp down", or "" when the body says nothing."""
        if self.status is None:
            return ""
        bad = [f"{name} {word}" for name, word in self.components if health_level(word) > 0]
        return f", reports {self.status}" + (f": {', '.join(bad)}" if bad else "")

    def lines(self) -> list[str]:
        if self.status is None:
            return []
        return [f"reported status: {self.status}"] + [
            f"  {name}: {word}" for name, word in self.components
        ]

    def data(self) -> dict[str, Any]:
        if self.status is None:
            return {}
        # a list, not a mapping: component names are the peer's text, and only values are
        # sanitized by the runner
        components = [{"name": name, "status": word} for name, word in self.components]
        return {"reported_status": self.status, "components": components}


def reported_health(fetched: Fetched) -> ReportedHealth:
    """The body's `status` and its `checks` (or Spring's `components`), when it is JSON."""
    try:
        document = json.loads(fetched.body) if fetched.complete else None
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or "status" not in document:
        return ReportedHealth()
    status = str(document["status"])
    parts = document.get("checks", document.get("components"))
    components = []
    if isinstance(parts, dict):
        for name, part in parts.items():
            # {"db": {"status": "ok"}}, {"db": "ok"}, or the IETF draft's {"db": [{...}]}
            first = part[0] if isinstance(part, list) and part else part
            word = first.get("status") if isinstance(first, dict) else first
            if word is not None:
                components.append((str(name), str(word)))
    return ReportedHealth(status, health_level(status), tuple(components))


HTTP_HEALTH = CheckKind(
    name="http_health",
    title="API health endpoint",
    params=(
        Param("url", "url", help="default: [api] health_url"),
        Param("max_latency", "duration", 1.0, help="slower than this is a warning"),
        Param("expect_status", "number", 200, help="the HTTP status of a healthy service"),
    ),
    timeout=10.0,
    run=http_health,
)

KINDS: tuple[CheckKind, ...] = (HTTP_HEALTH,)
