"""Scraping `/metrics` of one or more targets over HTTP.

Targets are fetched concurrently; each target's series carry an `instance`
label so that rates are taken per target and summed afterwards, as
`sum(rate(...))` does: one target restarting (a counter reset) does not
disturb the sum. One target failing is a problem of the poll, not a failure:
the others still count. The body is capped: a runaway page cannot eat the
bastion's memory.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lessay_console.config.model import ApiConfig
from lessay_console.samples import Collected, Sample, SourceFailure
from lessay_console.sources.exposition import parse_exposition
from lessay_console.sources.http import http_client, http_failure

if TYPE_CHECKING:
    import httpx

MAX_BODY_BYTES = 10 * 2**20
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"


class ScrapeSource:
    name = "scrape"

    def __init__(self, config: ApiConfig, max_body: int = MAX_BODY_BYTES) -> None:
        self.targets = config.metrics_urls
        self.interval = config.interval
        self.timeout = config.timeout
        self.verify_tls = config.verify_tls
        self.max_body = max_body
        self._client: httpx.AsyncClient | None = None

    async def collect(self) -> Collected:
        if self._client is None:
            self._client = http_client(self.timeout, self.verify_tls)
        results = await asyncio.gather(
            *(self._scrape(url) for url in self.targets), return_exceptions=True
        )
        samples: list[Sample] = []
        problems: list[str] = []
        failures: list[str] = []
        for url, result in zip(self.targets, results, strict=True):
            if isinstance(result, SourceFailure):
                # the reason first: a pane one line wide still shows why
                failures.append(f"{result.message} ({_instance(url)})")
            elif isinstance(result, BaseException):
                raise result
            else:
                target_samples, target_problems = result
                samples += target_samples
                problems += [f"{p} ({_instance(url)})" for p in target_problems]
        if failures and not samples:
            kinds = {r.kind for r in results if isinstance(r, SourceFailure)}
            raise SourceFailure(kinds.pop() if len(kinds) == 1 else "http", "; ".join(failures))
        return Collected(tuple(samples), problems=tuple(failures + problems))

    async def _scrape(self, url: str) -> tuple[list[Sample], list[str]]:
        assert self._client is not None  # noqa: S101 (set by collect)
        try:
            async with self._client.stream("GET", url, headers={"Accept": ACCEPT}) as response:
                if response.status_code != 200:
                    raise SourceFailure("http", f"HTTP {response.status_code}")
                content_type = response.headers.get("content-type", "")
                if "html" in content_type:
                    raise SourceFailure(
                        "parse", f"an HTML page ({content_type}), not metrics; check the URL"
                    )
                body = await self._read_capped(response)
        except SourceFailure:
            raise
        except Exception as error:  # httpx's transport errors, classified
            raise http_failure(error, self.timeout) from None
        text = body.decode("utf-8", errors="replace")
        return parse_exposition(text, {"instance": _instance(url)})

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise SourceFailure(
                "invalid", f"body of {int(declared):,} bytes is over the {self.max_body:,}-byte cap"
            )
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body:
                raise SourceFailure("invalid", f"body over the {self.max_body:,}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _instance(url: str) -> str:
    """host:port of a target, as Prometheus's `instance` label."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"
