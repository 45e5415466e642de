"""HTTP checks: the API's health endpoint, the payment provider's status page, the IdP.

Every body is read by streaming and capped: a health body at 64 KiB (the rest
is not read; an excerpt is shown), a JSON document at 1 MiB (more is an
error). Each fetch is also cut as a whole at the configured timeout
(`[api]`, `[payments]`, `[idp]` timeout), so a server that drips one byte a
second cannot hold a check; the check's own timeout (the runner's) stays the
last resort.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.formatting import format_number
from lessay_console.samples import SourceFailure
from lessay_console.sources.health import health_level
from lessay_console.sources.http import http_client, http_failure

if TYPE_CHECKING:
    import httpx

EXCERPT_CAP = 64 * 2**10  # health bodies: read at most this much
JSON_CAP = 2**20  # status page, discovery and JWKS documents
EXCERPT_LINES = 20
EXCERPT_LINE_CHARS = 200
# Transport failures that mean the peer does not answer (or answers broken
# HTTP); any other kind ("internal") means the check itself could not tell.
NO_ANSWER = {"timeout", "connect", "http"}


class Finding(Exception):
    """A verdict reached part way through a check: raised to end the check with it."""

    def __init__(self, status: CheckStatus, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


# -- fetching -----------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    """One GET: the status, at most `cap` bytes of body, and how long it took."""

    url: str
    status: int
    status_line: str  # "HTTP/1.1 503 Service Unavailable"
    headers: Mapping[str, str]
    body: bytes
    complete: bool  # False: the body went on past the cap and was not read further
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def timing(self) -> str:
        """ "GET url: HTTP/1.1 200 OK in 12 ms", with where a redirect points."""
        text = f"GET {self.url}: {self.status_line} in {_ms(self.seconds)}"
        location = self.headers.get("location")
        return f"{text} (Location: {location})" if location else text


async def fetch(client: httpx.AsyncClient, url: str, cap: int, within: float) -> Fetched:
    """GET `url`, reading at most `cap` bytes; a `SourceFailure` when there is no answer."""
    began = time.perf_counter()
    try:
        async with asyncio.timeout(within):
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as r:
                body, complete = await _read_capped(r, cap)
    except TimeoutError:  # ours: the answer did not finish in time (httpx's are per read)
        raise SourceFailure("timeout", f"no complete answer within {within:g}s") from None
    except Exception as error:  # httpx's transport errors, classified as the sources do
        raise http_failure(error, within) from None
    return Fetched(
        url=url,
        status=r.status_code,
        status_line=f"{r.http_version} {r.status_code} {r.reason_phrase}".strip(),
        headers={k.lower(): v for k, v in r.headers.items()},
        body=body,
        complete=complete,
        seconds=time.perf_counter() - began,
    )


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        room = cap - size
        if len(chunk) > room:  # stop: closing the stream drops the rest unread
            chunks.append(chunk[:room])
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), True


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    what: str,
    within: float,
    detail: list[str],
    unusable: CheckStatus,
) -> tuple[dict[str, Any], float]:
    """The JSON object at `url` and its fetch time, with the timing added to `detail`.

    No answer, a non-2xx status or a malformed document raise a `Finding` of
    `unusable` naming `what`; a body over the cap is an error (the check would
    not read it, which says nothing of the peer).
    """
    try:
        fetched = await fetch(client, url, JSON_CAP, within)
    except SourceFailure as failure:
        detail.append(f"GET {url}: {failure.kind}: {failure.message}")
        status = unusable if failure.kind in NO_ANSWER else CheckStatus.ERROR
        raise Finding(status, f"{what}: {failure.message}") from None
    detail.append(fetched.timing())
    if not fetched.ok:
        detail += excerpt(fetched)
        raise Finding(unusable, f"{what}: HTTP {fetched.status}")
    if not fetched.complete:
        raise Finding(CheckStatus.ERROR, f"{what} is over the {_size(JSON_CAP)} cap: not read")
    try:
        document = json.loads(fetched.body)
    except (ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested too deep
        detail += excerpt(fetched)
        raise Finding(unusable, f"{what} is not JSON ({_first_line(error)})") from None
    if not isinstance(document, dict):
        detail += excerpt(fetched)
        raise Finding(unusable, f"{what} is a JSON {type(document).__name__}, not an object")
    return document, fetched.seconds


def excerpt(fetched: Fetched) -> list[str]:
    """A bounded, line-cut excerpt of the body read; the runner makes it printable."""
    if not fetched.body:
        return ["body: empty"]
    size = f"{len(fetched.body):,} bytes"
    head = f"body ({size}):" if fetched.complete else f"body (first {size}, the rest not read):"
    lines = fetched.body.decode("utf-8", errors="replace").splitlines()
    shown = [f"  {_cut(line)}" for line in lines[:EXCERPT_LINES]]
    if len(lines) > EXCERPT_LINES:
        shown.append(f"  … {len(lines) - EXCERPT_LINES:,} more lines")
    return [head, *shown]


# -- http_health -------------------------------------------------------------
async def http_health(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    url = params.get("url") or ctx.config.api.health_url
    if not url:
        return Outcome.skipped("no [api] health_url in the configuration")
    max_latency = _param(params, "max_latency", 1.0)
    expected = int(_param(params, "expect_status", 200))
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
    took = f"HTTP {fetched.status} in {_ms(fetched.seconds)}"
    says = reported.clause()
    if fetched.status != expected:
        return CheckStatus.FAIL, f"{took}, expected {expected}{says}"
    if reported.level == 2:  # the service answers, and says it is down
        return CheckStatus.FAIL, took + says
    if fetched.seconds > max_latency:
        return CheckStatus.WARN, f"{took}: slower than the {_ms(max_latency)} allowed{says}"
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


# -- payment_status ----------------------------------------------------------
INDICATOR_STATUS = {
    "none": CheckStatus.PASS,
    "minor": CheckStatus.WARN,
    "maintenance": CheckStatus.WARN,
    "major": CheckStatus.FAIL,
    "critical": CheckStatus.FAIL,
}
CLOSED_INCIDENT = {"resolved", "postmortem", "completed"}


async def payment_status(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    url = params.get("url") or ctx.config.payments.url
    if not url:
        return Outcome.skipped("no [payments] status_url in the configuration")
    within = ctx.config.payments.timeout
    detail: list[str] = []
    try:
        async with http_client(within) as client:
            # an unreachable or broken status page says nothing of the provider: error
            document, _ = await get_json(
                client, url, "status page", within, detail, CheckStatus.ERROR
            )
        page = read_status_page(document)
    except Finding as finding:
        return Outcome(finding.status, finding.summary, tuple(detail), {"url": url})
    status = INDICATOR_STATUS[page.indicator]
    return Outcome(status, page.summary(), (*detail, *page.lines()), {"url": url, **page.data()})


@dataclass(frozen=True)
class StatusPage:
    """The parts of an Atlassian Statuspage v2 answer a diagnosis needs."""

    indicator: str
    description: str
    components: tuple[tuple[str, str], ...]  # (name, status), those not operational
    incidents: tuple[Mapping[str, str], ...]  # open ones: name, status, impact, url
    maintenances: tuple[str, ...]  # names of maintenances in progress

    def summary(self) -> str:
        """ "major: Partial System Outage · API partial_outage · incident: Elevated ..." """
        parts = [f"{self.indicator}: {self.description}"]
        if self.components:
            parts.append(", ".join(f"{name} {status}" for name, status in self.components))
        if self.incidents:
            names = "; ".join(i["name"] for i in self.incidents)
            parts.append(("incidents: " if len(self.incidents) > 1 else "incident: ") + names)
        return " · ".join(parts)

    def lines(self) -> list[str]:
        lines = [f"indicator: {self.indicator} ({self.description})"]
        lines += [f"component {name}: {status}" for name, status in self.components]
        for i in self.incidents:
            link = f" ({i['url']})" if i["url"] else ""
            lines.append(f"incident {i['name']!r}: {i['status']}, impact {i['impact']}{link}")
        lines += [f"maintenance in progress: {name}" for name in self.maintenances]
        return lines

    def data(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "description": self.description,
            "components": [{"name": n, "status": s} for n, s in self.components],
            "incidents": [dict(i) for i in self.incidents],
            "maintenances": list(self.maintenances),
        }


def read_status_page(document: Mapping[str, Any]) -> StatusPage:
    """`summary.json`, or `status.json` (which has no components or incidents);
    a `Finding` (error) naming what is missing or wrong."""
    status = document.get("status")
    if not isinstance(status, dict) or "indicator" not in status:
        raise Finding(CheckStatus.ERROR, "the status page answer has no status.indicator")
    indicator = status["indicator"]
    if indicator not in INDICATOR_STATUS:
        known = ", ".join(INDICATOR_STATUS)
        raise Finding(CheckStatus.ERROR, f"status.indicator is {indicator!r}, not one of {known}")
    components = [
        (name, entry["status"])
        for name, entry in _named_entries(document, "components")
        if entry["status"] != "operational"
    ]
    incidents = [
        {
            "name": name,
            "status": entry["status"],
            "impact": str(entry.get("impact", "")),
            "url": str(entry.get("shortlink") or ""),
        }
        for name, entry in _named_entries(document, "incidents")
        if entry["status"] not in CLOSED_INCIDENT
    ]
    maintenances = [
        name
        for name, entry in _named_entries(document, "scheduled_maintenances")
        if entry["status"] == "in_progress"
    ]
    return StatusPage(
        indicator,
        str(status.get("description", "")),
        tuple(components),
        tuple(incidents),
        tuple(maintenances),
    )


def _named_entries(document: Mapping[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, entry) of each object in `document[key]`, each with a string name and status;
    an absent list is empty, a malformed one an error saying where."""
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise Finding(CheckStatus.ERROR, f"{key} is a {type(entries).__name__}, not a list")
    named = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise Finding(CheckStatus.ERROR, f"{key}[{index}] is not an object")
        for needed in ("name", "status"):
            if not isinstance(entry.get(needed), str):
                raise Finding(CheckStatus.ERROR, f"{key}[{index}] has no {needed}")
        named.append((entry["name"], entry))
    return named


# -- oidc --------------------------------------------------------------------
DISCOVERY_KEYS = ("issuer", "jwks_uri", "authorization_endpoint", "token_endpoint")
WELL_KNOWN = "/.well-known/openid-configuration"
KEY_FIELDS = ("kid", "kty", "alg", "use")


async def oidc(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    url = params.get("url") or ctx.config.idp.url
    if not url:
        return Outcome.skipped("no [idp] discovery_url in the configuration")
    within = ctx.config.idp.timeout
    detail: list[str] = []
    try:
        async with http_client(within) as client:
            discovery, discovery_took = await get_json(
                client, url, "discovery document", within, detail, CheckStatus.FAIL
            )
            issuer, jwks_uri = _discovery_fields(discovery, detail)
            jwks, jwks_took = await get_json(
                client, jwks_uri, "JWKS", within, detail, CheckStatus.FAIL
            )
        keys, warnings = _read_keys(jwks)
    except Finding as finding:
        return Outcome(finding.status, finding.summary, tuple(detail), {"url": url})

    detail += ["key " + " ".join(f"{k}={key[k]}" for k in KEY_FIELDS if k in key) for key in keys]
    # OIDC Discovery 4.3: the issuer is the URL the discovery document hangs under
    if url.endswith(WELL_KNOWN) and issuer.rstrip("/") != url[: -len(WELL_KNOWN)].rstrip("/"):
        warnings.insert(0, f"issuer {issuer} is not the discovery URL's prefix")
    data = {
        "url": url,
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "keys": [{k: key.get(k) for k in KEY_FIELDS} for key in keys],
        "discovery_ms": round(discovery_took * 1000, 1),
        "jwks_ms": round(jwks_took * 1000, 1),
    }
    if warnings:
        return Outcome(CheckStatus.WARN, "; ".join(warnings), tuple(detail), data)
    count = f"{len(keys)} key" + ("" if len(keys) == 1 else "s")
    took = _ms(discovery_took + jwks_took)
    return Outcome.passed(f"discovery and JWKS OK ({count}) in {took}", tuple(detail), **data)


def _discovery_fields(discovery: Mapping[str, Any], detail: list[str]) -> tuple[str, str]:
    """The issuer and jwks_uri; a failing `Finding` naming every required key missing."""
    missing = [key for key in DISCOVERY_KEYS if not isinstance(discovery.get(key), str)]
    if missing:
        raise Finding(CheckStatus.FAIL, f"discovery document lacks {', '.join(missing)}")
    issuer, jwks_uri = discovery["issuer"], discovery["jwks_uri"]
    detail.append(f"issuer: {issuer}")
    if urlsplit(jwks_uri).scheme not in ("http", "https"):
        raise Finding(
            CheckStatus.FAIL, f"discovery document's jwks_uri {jwks_uri!r} is not an http(s) URL"
        )
    return issuer, jwks_uri


def _read_keys(jwks: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The keys and warnings; a failing `Finding` when no key can be used.

    A key without `kid` is a warning: one key works without it, but across a
    rotation clients cannot tell which key signed a token.
    """
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise Finding(CheckStatus.FAIL, "JWKS has no keys list")
    if not keys:
        raise Finding(CheckStatus.FAIL, "JWKS has an empty keys list: no token can be verified")
    warnings = []
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise Finding(CheckStatus.FAIL, f"JWKS keys[{index}] is not an object")
        if not isinstance(key.get("kty"), str):
            raise Finding(CheckStatus.FAIL, f"JWKS keys[{index}] has no kty")
        if not isinstance(key.get("kid"), str):
            warnings.append(f"JWKS keys[{index}] has no kid")
    return keys, warnings


# -- shared bits -------------------------------------------------------------
def _param(params: Mapping[str, Any], name: str, default: Any) -> Any:
    """A parameter as given, or its default (a spec built in code may leave it out)."""
    value = params.get(name)
    return default if value is None else value


def _ms(seconds: float) -> str:
    return format_number(seconds * 1000, "ms")


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n // 2**10} KiB"


def _cut(line: str) -> str:
    return line if len(line) <= EXCERPT_LINE_CHARS else line[:EXCERPT_LINE_CHARS] + "…"


def _first_line(error: BaseException) -> str:
    text = str(error)
    return _cut(text.splitlines()[0] if text else type(error).__name__)


KINDS: tuple[CheckKind, ...] = (
    CheckKind(
        name="http_health",
        title="API health endpoint",
        params=(
            Param("url", "url", help="default: [api] health_url"),
            Param("max_latency", "duration", 1.0, help="slower than this is a warning"),
            Param("expect_status", "number", 200, help="the HTTP status of a healthy service"),
        ),
        timeout=10.0,
        run=http_health,
    ),
    CheckKind(
        name="payment_status",
        title="Payment provider status page",
        params=(Param("url", "url", help="Statuspage v2 summary.json; default: [payments]"),),
        timeout=10.0,
        run=payment_status,
    ),
    CheckKind(
        name="oidc",
        title="Identity provider (OIDC discovery and JWKS)",
        params=(Param("url", "url", help="discovery document; default: [idp] discovery_url"),),
        timeout=15.0,
        run=oidc,
    ),
)
