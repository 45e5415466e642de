"""Fetching for the HTTP checks: one bounded GET, and the JSON documents a check judges.

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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckStatus, Outcome
from lessay_console.config.model import EndpointConfig
from lessay_console.formatting import format_number
from lessay_console.samples import SourceFailure
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
        text = f"GET {self.url}: {self.status_line} in {format_ms(self.seconds)}"
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


class Documents:
    """The JSON documents one check fetches through one client, each fetch's timing noted."""

    def __init__(self, client: httpx.AsyncClient, within: float, detail: list[str]) -> None:
        self.client = client
        self.within = within
        self.detail = detail  # a line for each fetch, and an excerpt of what could not be used

    async def get(self, url: str, what: str, unusable: CheckStatus) -> tuple[dict[str, Any], float]:
        """The JSON object at `url` and its fetch time.

        No answer, a non-2xx status or a malformed document raise a `Finding` of
        `unusable` naming `what`; a body over the cap is an error (the check would
        not read it, which says nothing of the peer).
        """
        detail = self.detail
        try:
            fetched = await fetch(self.client, url, JSON_CAP, self.within)
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


JudgeDocuments = Callable[[Documents, str], Awaitable[Outcome]]


async def judge_documents(
    url: str | None, endpoint: EndpointConfig, not_configured: str, judge: JudgeDocuments
) -> Outcome:
    """`judge(documents, url)`, fetching through one client cut at the endpoint's timeout.

    `url` is the spec's, else the endpoint's; skipped (`not_configured`) where
    neither gives one. A `Finding` raised on the way ends the check with its
    verdict and the fetches' lines so far.
    """
    url = url or endpoint.url
    if not url:
        return Outcome.skipped(not_configured)
    within = endpoint.timeout
    detail: list[str] = []
    try:
        async with http_client(within) as client:
            return await judge(Documents(client, within, detail), url)
    except Finding as finding:
        return Outcome(finding.status, finding.summary, tuple(detail), {"url": url})


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


def format_ms(seconds: float) -> str:
    return format_number(seconds * 1000, "ms")


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n // 2**10} KiB"


def _cut(line: str) -> str:
    return line if len(line) <= EXCERPT_LINE_CHARS else line[:EXCERPT_LINE_CHARS] + "…"


def _first_line(error: BaseException) -> str:
    text = str(error)
    return _cut(text.splitlines()[0] if text else type(error).__name__)
