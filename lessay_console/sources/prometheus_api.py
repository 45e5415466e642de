"""The Prometheus HTTP API's answers read into samples, or typed failures saying why not.

`GET /api/v1/query` and `/api/v1/query_range` answer JSON such as
`{"status": "success", "data": {"resultType": "vector", "result": [...]}}`
or `{"status": "error", "errorType": "bad_data", "error": "..."}`. Values are
strings; "NaN", "+Inf" and "-Inf" are kept as floats, for the rules to judge.
Every text quoted from the server is redacted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.redaction import redact
from lessay_console.samples import Labels, Sample, SourceFailure, labels_of

if TYPE_CHECKING:
    import httpx

MAX_BODY_BYTES = 32 * 2**20
# errorType values that say the server gave up, not that the query is wrong
_SERVER_GAVE_UP = {"timeout": "timeout", "canceled": "timeout", "unavailable": "http"}


class QueryFailed(SourceFailure):
    """One metric's query failed; `reason` is the message without the metric's name."""

    def __init__(self, kind: str, reason: str, metric: str, backfill: bool = False) -> None:
        what = "backfill query" if backfill else "query"
        super().__init__(kind, f"{reason} in {what} for {metric}")
        self.reason = reason
        self.metric = metric


@dataclass(frozen=True, slots=True)
class ApiData:
    """The `data` of a successful API answer, and the warnings that came with it."""

    data: dict[str, Any]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class Answer:
    samples: list[Sample]
    warnings: list[str]


async def read_capped(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SourceFailure("invalid", f"answer over the {MAX_BODY_BYTES:,}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def api_answer(raw: bytes, status: int, content_type: str) -> ApiData:
    """The `data` of a successful API answer; a typed failure for anything else."""
    if status == 401:
        raise SourceFailure("auth", "HTTP 401: not authorised; check bearer_token")
    if status == 403:
        raise SourceFailure("permission", "HTTP 403: the token may not query this server")
    if "html" in content_type:
        raise SourceFailure(
            "parse" if status == 200 else "http",
            f"HTTP {status} with an HTML page, not the Prometheus API; check the url",
        )
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") not in {"success", "error"}:
        if status != 200:
            raise SourceFailure("http", f"HTTP {status}")
        raise SourceFailure("parse", "the answer is not Prometheus API JSON; check the url")
    if body["status"] == "error":
        error_type = str(body.get("errorType") or "error")
        reason = redact(f"{error_type}: {body.get('error', '')}")
        raise SourceFailure(_SERVER_GAVE_UP.get(error_type, "invalid"), reason)
    data = body.get("data")
    if not isinstance(data, dict):
        raise SourceFailure("parse", "the answer has no data")
    return ApiData(data, [redact(str(w)) for w in body.get("warnings") or ()])


def read_instant(answer: ApiData, metric: str) -> Answer:
    name = f"query:{metric}"
    kind, result = answer.data.get("resultType"), answer.data.get("result")
    try:
        if kind == "scalar":
            return Answer([Sample(name, _value(result[1]))], _warned(answer, metric))
        if kind == "vector":
            samples = [
                Sample(name, _value(item["value"][1]), _labels(item["metric"]))
                for item in result
                if "value" in item  # a native histogram has "histogram" instead
            ]
            return Answer(samples, _warned(answer, metric))
    except (KeyError, IndexError, TypeError, ValueError):
        raise QueryFailed("parse", "malformed result", metric) from None
    raise QueryFailed("invalid", f"the query returns a {kind}, not a number", metric)


def read_range(answer: ApiData, metric: str) -> Answer:
    name = f"query:{metric}"
    if answer.data.get("resultType") != "matrix":
        raise QueryFailed("invalid", "the range query returned no matrix", metric, True)
    try:
        samples = [
            Sample(name, _value(value), labels, float(t))
            for item in answer.data["result"]
            for labels in [_labels(item["metric"])]
            for t, value in item.get("values", ())
        ]
    except (KeyError, IndexError, TypeError, ValueError):
        raise QueryFailed("parse", "malformed result", metric, True) from None
    return Answer(samples, _warned(answer, metric))


def _value(text: object) -> float:
    # "NaN", "+Inf" and "-Inf" are valid floats to Python: kept as such
    return float(str(text))


def _labels(metric: dict[str, str]) -> Labels:
    return labels_of({k: str(v) for k, v in metric.items() if k != "__name__"})


def _warned(answer: ApiData, metric: str) -> list[str]:
    return [f"{metric}: Prometheus warns: {w}" for w in answer.warnings]
