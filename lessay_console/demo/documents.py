"""JSON bodies the demo serves besides metrics: health, status page, OIDC, JWKS.

Each is a pure function of the model (or the seed) and the times given, in the
format the real thing uses: ``/health`` as the Lessay API answers it, the
payment provider's status page in Atlassian Statuspage v2 format (what
status.stripe.com-style pages serve), and an OpenID Connect discovery document
with its JWKS, so the console's checks are written against real formats.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import random
from typing import Any

from lessay_console.demo.fleet import Node
from lessay_console.demo.model import DemoModel
from lessay_console.demo.scenarios import STATUS_COMPONENTS
from lessay_console.demo.timestamps import iso_utc

_INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
_PAGE_ID = "lessaydemo01"
# A fixed date for when the status page's components were created.
_COMPONENTS_CREATED = "2016-03-01T18:00:00.000Z"


def health(
    model: DemoModel, node: Node, uptime_seconds: float, now: float
) -> tuple[int, dict[str, Any]]:
    """``GET /health``: HTTP status and body. Only a down database takes the service down."""
    scenario = model.scenario
    levels = model.levels
    checks = {
        "database": {
            "status": scenario.database_health,
            "latency_ms": round(levels["db.median"] * 1000.0, 1),
        },
        "auth": {
            "status": scenario.auth.health,
            "latency_ms": round(levels["auth.median"] * 1000.0, 1),
        },
        "payments": {
            "status": scenario.payments.health,
            "latency_ms": round(levels["payments.median"] * 1000.0, 1),
        },
        "idp": {
            "status": scenario.idp_health,
            "latency_ms": round(levels["idp.latency"] * 1000.0, 1),
        },
    }
    if scenario.database_health == "down":
        status = "down"
    elif any(check["status"] != "ok" for check in checks.values()):
        status = "degraded"
    else:
        status = "ok"
    body = {
        "status": status,
        "version": node.version,
        "node": node.name,
        "uptime_seconds": int(uptime_seconds),
        "time": iso_utc(now),
        "checks": checks,
    }
    return (503 if status == "down" else 200), body


def _page(base_url: str, now: float) -> dict[str, Any]:
    return {
        "id": _PAGE_ID,
        "name": "Payment Provider (demo)",
        "url": f"{base_url}/status",
        "time_zone": "Etc/UTC",
        "updated_at": iso_utc(now, timespec="milliseconds"),
    }


def status_page_status(model: DemoModel, base_url: str, now: float) -> dict[str, Any]:
    """``GET /status/api/v2/status.json``: the page and its overall indicator."""
    indicator = model.scenario.status_indicator
    return {
        "page": _page(base_url, now),
        "status": {"indicator": indicator, "description": _INDICATOR_DESCRIPTIONS[indicator]},
    }


def _component_id(name: str) -> str:
    return hashlib.sha256(f"component:{name}".encode()).hexdigest()[:12]


def status_page_summary(model: DemoModel, base_url: str, now: float) -> dict[str, Any]:
    """``GET /status/api/v2/summary.json``: components, open incidents and the indicator."""
    scenario = model.scenario
    states = dict(scenario.status_components)
    since = iso_utc(model.wall_time(model.scenario_since), timespec="milliseconds")
    components = [
        {
            "id": _component_id(name),
            "name": name,
            "status": states.get(name, "operational"),
            "created_at": _COMPONENTS_CREATED,
            "updated_at": since if name in states else _COMPONENTS_CREATED,
            "position": position,
            "description": None,
            "showcase": True,
            "start_date": None,
            "group_id": None,
            "page_id": _PAGE_ID,
            "group": False,
            "only_show_if_degraded": False,
        }
        for position, name in enumerate(STATUS_COMPONENTS, start=1)
    ]
    incidents = []
    if scenario.status_incident is not None:
        incident_id = hashlib.sha256(f"incident:{since}".encode()).hexdigest()[:12]
        affected = [component for component in components if component["name"] in states]
        incidents.append(
            {
                "id": incident_id,
                "name": scenario.status_incident,
                "status": "investigating",
                "created_at": since,
                "updated_at": since,
                "monitoring_at": None,
                "resolved_at": None,
                "impact": scenario.status_indicator,
                "shortlink": f"{base_url}/status/incidents/{incident_id}",
                "started_at": since,
                "page_id": _PAGE_ID,
                "incident_updates": [
                    {
                        "id": f"{incident_id}u1",
                        "status": "investigating",
                        "body": "We are investigating elevated error rates on API requests.",
                        "incident_id": incident_id,
                        "created_at": since,
                        "updated_at": since,
                        "display_at": since,
                        "affected_components": [
                            {
                                "code": component["id"],
                                "name": component["name"],
                                "old_status": "operational",
                                "new_status": component["status"],
                            }
                            for component in affected
                        ],
                        "deliver_notifications": True,
                    }
                ],
                "components": affected,
            }
        )
    summary = status_page_status(model, base_url, now)
    return {
        "page": summary["page"],
        "components": components,
        "incidents": incidents,
        "scheduled_maintenances": [],
        "status": summary["status"],
    }


def openid_configuration(base_url: str) -> dict[str, Any]:
    """``GET /idp/.well-known/openid-configuration``: OIDC discovery for issuer ``{url}/idp``."""
    issuer = f"{base_url}/idp"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "response_types_supported": ["code", "id_token", "code id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.cache
def jwks(seed: int) -> dict[str, Any]:
    """``GET /idp/jwks.json``: one well-formed RS256 key, deterministic per seed.

    The modulus is a seeded 2048-bit odd number with the top bit set: the right
    shape for a JWK, with no crypto dependency (nothing is ever signed with it).
    """
    rng = random.Random(f"{seed}:jwks")  # noqa: S311 - a fixed test value, not a secret
    modulus = rng.getrandbits(2048) | (1 << 2047) | 1
    n = modulus.to_bytes(256, "big")
    return {
        "keys": [
            {
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": hashlib.sha256(n).hexdigest()[:16],
                "n": _b64url(n),
                "e": _b64url((65537).to_bytes(3, "big")),
            }
        ]
    }
