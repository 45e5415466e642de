"""The log lines the simulated services write, made from what happened in a step.

Pure: :class:`LogEvents` turns one step's facts into JSON-ready records (one
info line per service per second, warnings and errors in proportion to what
the step produced); :mod:`lessay_console.demo.logs` writes them to files.
What an error line says depends on the service profile's ``error_log`` family,
so a scenario's logs point at its cause the way the maintenance guide's
"Check error logs" expects.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lessay_console.demo.sampling import binomial, poisson
from lessay_console.demo.timestamps import iso_utc

# One logged error line per this many 5xx responses: real services sample.
_ERROR_LOG_SHARE = 0.2
_MAX_ERROR_LINES = 4
_SLOW_REQUEST_LOG_SHARE = 0.2
_SLOW_QUERY_LOG_SHARE = 0.02
_MAX_WARNING_LINES = 3

_ROUTES = {
    "api": (
        ("GET", "/v1/lessons/{id}"),
        ("GET", "/v1/courses"),
        ("POST", "/v1/lessons/{id}/attempts"),
        ("GET", "/v1/users/me/progress"),
        ("GET", "/v1/vocabulary/reviews"),
    ),
    "auth": (
        ("POST", "/oauth/token"),
        ("GET", "/oauth/callback"),
        ("POST", "/sessions"),
        ("GET", "/userinfo"),
    ),
    "payments": (
        ("POST", "/v1/checkout/sessions"),
        ("POST", "/v1/webhooks/stripe"),
        ("GET", "/v1/subscriptions/me"),
    ),
}

_SLOW_QUERIES = (
    "SELECT l.id, l.title, p.completed_at FROM lessons l JOIN progress p ON p.lesson_id = l.id "
    "WHERE p.user_id = $1 ORDER BY p.updated_at DESC",
    "SELECT count(*) FROM vocabulary_reviews WHERE user_id = $1 AND due_at < now()",
    "SELECT * FROM lesson_attempts WHERE lesson_id = $1 AND created_at > $2",
    "UPDATE user_streaks SET current = current + 1, updated_at = now() WHERE user_id = $1",
)

_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/lessay/api/handlers/lessons.py", line 214, in get_lesson\n'
    "    progress = progress_by_lesson[lesson.id]\n"
    "KeyError: 'lsn_{ref}'"
)


@dataclass(frozen=True)
class ServiceStep:
    """What one service did in one step."""

    name: str
    requests: int
    server_errors: dict[str, int]
    median: float
    sigma: float
    slow_requests: float
    """Expected requests above 1 s in this step."""
    error_log: str


@dataclass(frozen=True)
class StepFacts:
    """What the whole deployment did in one step, as the log writer needs it."""

    wall_time: float
    services: list[ServiceStep]
    db_median: float
    db_sigma: float
    slow_queries: float
    """Expected queries above 0.5 s in this step."""
    pool_in_use: int
    pool_max: int


def _exception(rng: random.Random, code: str) -> dict[str, Any]:
    if code == "500":
        ref = f"{rng.getrandbits(16):04x}"
        return {"msg": "unhandled exception", "error": _TRACEBACK.format(ref=ref)}
    return {"msg": "upstream error", "error": f"upstream answered {code}"}


def _timeout(rng: random.Random, code: str) -> dict[str, Any]:
    return {
        "msg": "request failed",
        "error": "canceling statement due to statement timeout",
        "query": rng.choice(_SLOW_QUERIES),
    }


def _pool(rng: random.Random, code: str) -> dict[str, Any]:
    if code == "503":
        return {
            "msg": "could not acquire database connection",
            "error": "OperationalError: FATAL: sorry, too many clients already "
            "(too many connections)",
        }
    return {"msg": "request failed", "error": "PoolTimeout: no connection available after 30.0 s"}


def _stripe(rng: random.Random, code: str) -> dict[str, Any]:
    stripe_id = "req_" + "".join(rng.choices(string.ascii_letters + string.digits, k=14))
    if code == "502":
        return {
            "msg": "Stripe API request failed",
            "error": "api_connection_error",
            "upstream": "api.stripe.com",
            "upstream_status": 502,
            "stripe_request_id": stripe_id,
        }
    return {
        "msg": "Stripe API request failed",
        "error": "api_error",
        "upstream": "api.stripe.com",
        "upstream_status": 500 if code == "500" else 503,
        "stripe_request_id": stripe_id,
    }


def _idp(rng: random.Random, code: str) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {
            "msg": "IdP discovery failed",
            "error": "GET https://idp.lessay.example/.well-known/openid-configuration: "
            "503 Service Unavailable",
        }
    return {
        "msg": "JWKS fetch failed",
        "error": "GET https://idp.lessay.example/jwks.json: timed out after 1.0 s",
    }


#: Error line families, by the name a service profile's ``error_log`` gives.
ERROR_FAMILIES: dict[str, Callable[[random.Random, str], dict[str, Any]]] = {
    "exception": _exception,
    "timeout": _timeout,
    "pool": _pool,
    "stripe": _stripe,
    "idp": _idp,
}


class LogEvents:
    """Turns step facts into log records, with its own random stream."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def emit(self, facts: StepFacts) -> list[dict[str, Any]]:
        """The records of one step, each service's in time order."""
        records: list[dict[str, Any]] = []
        for service in facts.services:
            lines = self._service_lines(service)
            if service.name == "api":
                lines += self._database_lines(facts)
            # The step covers the second before ``wall_time``: spread lines over it.
            offsets = sorted(self._rng.random() for _ in lines)
            for offset, (level, fields) in zip(offsets, lines, strict=True):
                ts = iso_utc(facts.wall_time - 1.0 + offset, timespec="milliseconds")
                record = {"ts": ts, "level": level, "service": service.name}
                record.update(fields)
                records.append(record)
        return records

    def _request_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    def _route(self, service: str) -> str:
        method, route = self._rng.choice(_ROUTES[service])
        return f"{method} {route}"

    def _service_lines(self, service: ServiceStep) -> list[tuple[str, dict[str, Any]]]:
        rng = self._rng
        duration = rng.lognormvariate(math.log(service.median), service.sigma)
        lines: list[tuple[str, dict[str, Any]]] = [
            (
                "info",
                {
                    "msg": "request completed",
                    "request_id": self._request_id(),
                    "route": self._route(service.name),
                    "status": 200,
                    "duration_ms": round(duration * 1000.0, 1),
                },
            )
        ]
        codes = sorted(service.server_errors)
        weights = [service.server_errors[code] for code in codes]
        logged = min(_MAX_ERROR_LINES, binomial(rng, sum(weights), _ERROR_LOG_SHARE))
        family = ERROR_FAMILIES[service.error_log]
        for code in rng.choices(codes, weights=weights, k=logged) if logged else []:
            fields = {
                "msg": "",  # placeholder: keeps "msg" before the other fields in the line
                "request_id": self._request_id(),
                "route": self._route(service.name),
                "status": int(code),
            }
            fields.update(family(rng, code))
            lines.append(("error", fields))
        slow = min(
            _MAX_WARNING_LINES, poisson(rng, service.slow_requests * _SLOW_REQUEST_LOG_SHARE)
        )
        for _ in range(slow):
            lines.append(
                (
                    "warning",
                    {
                        "msg": "slow request",
                        "request_id": self._request_id(),
                        "route": self._route(service.name),
                        "status": 200,
                        "duration_ms": round(1000.0 + rng.expovariate(1 / 400.0), 1),
                    },
                )
            )
        return lines

    def _database_lines(self, facts: StepFacts) -> list[tuple[str, dict[str, Any]]]:
        rng = self._rng
        lines: list[tuple[str, dict[str, Any]]] = []
        if facts.pool_in_use >= facts.pool_max:
            lines.append(
                (
                    "warning",
                    {
                        "msg": "connection pool exhausted",
                        "request_id": self._request_id(),
                        "in_use": facts.pool_in_use,
                        "max": facts.pool_max,
                    },
                )
            )
        slow = min(_MAX_WARNING_LINES, poisson(rng, facts.slow_queries * _SLOW_QUERY_LOG_SHARE))
        for _ in range(slow):
            lines.append(
                (
                    "warning",
                    {
                        "msg": "slow query",
                        "request_id": self._request_id(),
                        "query": rng.choice(_SLOW_QUERIES),
                        "duration_ms": round(500.0 + rng.expovariate(1 / 300.0), 1),
                    },
                )
            )
        return lines
