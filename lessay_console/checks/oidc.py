"""The `oidc` check: the identity provider's discovery document and its JWKS.

The discovery document must name its issuer, jwks_uri and endpoints, and the
JWKS must hold at least one usable key; an issuer that is not the discovery
URL's prefix, or a key without `kid`, is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from lessay_console.checks.http_fetch import Documents, Finding, format_ms, judge_documents
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param

DISCOVERY_KEYS = ("issuer", "jwks_uri", "authorization_endpoint", "token_endpoint")
WELL_KNOWN = "/.well-known/openid-configuration"
KEY_FIELDS = ("kid", "kty", "alg", "use")


async def oidc(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    return await judge_documents(
        params.get("url"),
        ctx.config.idp,
        "no [idp] discovery_url in the configuration",
        _judge_provider,
    )


async def _judge_provider(documents: Documents, url: str) -> Outcome:
    discovery, discovery_took = await documents.get(url, "discovery document", CheckStatus.FAIL)
    detail = documents.detail
    issuer, jwks_uri = _discovery_fields(discovery, detail)
    jwks, jwks_took = await documents.get(jwks_uri, "JWKS", CheckStatus.FAIL)
    keys, warnings = _read_keys(jwks)
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
    took = format_ms(discovery_took + jwks_took)
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


OIDC = CheckKind(
    name="oidc",
    title="Identity provider (OIDC discovery and JWKS)",
    params=(Param("url", "url", help="discovery document; default: [idp] discovery_url"),),
    timeout=15.0,
    run=oidc,
)

KINDS: tuple[CheckKind, ...] = (OIDC,)
