"""The `network` check: the path to a host, phase by phase, as `mtr` and `openssl s_client` would.

DNS resolution, TCP connect and the TLS handshake are timed one after the other
(`network_phases`), each under its own bound inside the check's timeout, so a slow
phase is named as the slow one. The certificate's subject, issuer and expiry come
from its DER bytes (`certificate`), read whether or not it was verified. Where
`mtr` is installed, its report runs alongside and the loss at each hop is read
from it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lessay_console.checks.certificate import Certificate
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.checks.network_phases import (
    PhaseFailed,
    Target,
    connect,
    handshake,
    resolve,
    tls_context,
    verify_reason,
)
from lessay_console.checks.processes import run_command
from lessay_console.config import Config

TLS_BOUND = 5.0  # seconds the TLS handshake may take (DNS and connect: network_phases)
MTR_SLACK = 10.0  # seconds mtr may take beyond one per probe round
EXPIRY_WARN_DAYS = 14

PARAMS = (
    Param("host", "string", help="host name or address (or give url)"),
    Param("url", "url", help="host, port and TLS taken from it"),
    Param("endpoint", "string", help='"payments" or "idp": the URL configured for it'),
    Param("port", "number", 443),
    Param("tls", "boolean", True, help="do a TLS handshake after connecting"),
    Param("verify_tls", "boolean", True, help="verify the certificate chain and host name"),
    Param("ca_file", "path", help="CA certificates (PEM) to trust instead of the system's"),
    Param("mtr", "boolean", True, help="run `mtr -rwc COUNT HOST` where mtr is installed"),
    Param("mtr_count", "number", 10, help="mtr probe rounds"),
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


# -- mtr -------------------------------------------------------------------------------

_MTR_HOP = re.compile(r"^\s*(\d+)\.\s*\|--\s+(\S+)\s+([\d.]+)%\s+(\d+)")


def parse_mtr_report(text: str) -> list[dict[str, Any]]:
    """The hops of `mtr -rw` output: number, host, loss percent, probes sent."""
    hops = []
    for line in text.splitlines():
        if match := _MTR_HOP.match(line):
            number, host, loss, sent = match.groups()
            hops.append({"hop": int(number), "host": host, "loss": float(loss), "sent": int(sent)})
    return hops


async def run_mtr(host: str, count: int) -> dict[str, Any]:
    """`mtr -rwc COUNT HOST`, cut (its process group killed) when it overruns."""
    if shutil.which("mtr") is None:
        return {"installed": False}
    argv = ["mtr", "-rwc", str(count), host]
    bound = count + MTR_SLACK
    result = await run_command(argv, timeout=bound)
    report: dict[str, Any] = {"installed": True, "argv": argv, "report": result.output}
    if result.not_started is not None:
        report["error"] = f"mtr: {result.not_started}"
    elif result.timed_out:
        report["error"] = f"mtr cut after {bound:g}s"
    elif result.returncode != 0:
        report["error"] = f"mtr exited with {result.returncode}: {result.last_line}"
    report["hops"] = parse_mtr_report(result.output)
    return report


# -- the check -------------------------------------------------------------------------

# Third-party endpoints of the configuration: section and key, as an operator writes them.
ENDPOINTS = {"payments": "status_url", "idp": "discovery_url"}


def _target(p: Mapping[str, Any], config: Config) -> Target | Outcome:
    """Where to go, or why the parameters do not say."""
    url = p.get("url")
    if not url and not p.get("host") and p.get("endpoint"):
        url = _endpoint_url(p["endpoint"], config)
        if isinstance(url, Outcome):
            return url
    if url:
        return _url_target(url)
    host = p.get("host")
    if not host:
        return Outcome.errored("give host, url or endpoint")
    port = int(p["port"])
    if not 0 < port < 65536:
        return Outcome.errored(f"port {port} is out of range")
    return Target(str(host), port, bool(p["tls"]))


def _endpoint_url(endpoint: str, config: Config) -> str | Outcome:
    if endpoint not in ENDPOINTS:
        return Outcome.errored(f"endpoint {endpoint!r} is not one of: {', '.join(ENDPOINTS)}")
    url = getattr(config, endpoint).url
    if not url:
        key = ENDPOINTS[endpoint]
        return Outcome.skipped(f'no endpoint to probe: add [{endpoint}] {key} = "URL"')
    return url


def _url_target(url: str) -> Target | Outcome:
    """Host, port and TLS of an http(s) URL (the URL's own port, else the scheme's)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Outcome.errored(f"url {url!r} is not an http:// or https:// URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        return Outcome.errored(f"url {url!r}: {error}")
    return Target(parts.hostname, port, parts.scheme == "https")


class _Findings:
    """Detail lines, data and the worst status so far."""

    def __init__(self, target: Target) -> None:
        self.detail: list[str] = []
        # "tls" stays None where no handshake is asked for
        self.data: dict[str, Any] = {"host": target.host, "port": target.port, "tls": None}
        self.status = CheckStatus.PASS
        self.warnings: list[str] = []

    def warn(self, why: str) -> None:
        self.warnings.append(why)
        if self.status == CheckStatus.PASS:
            self.status = CheckStatus.WARN


async def check_network(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    p = NETWORK.with_defaults(params)
    target = _target(p, ctx.config)
    if isinstance(target, Outcome):
        return target
    count = int(p["mtr_count"])
    if not 1 <= count <= 100:
        return Outcome.errored(f"mtr_count {count} must be between 1 and 100")
    found = _Findings(target)
    # The path report runs alongside the phases; where one fails, it shows where the path ends.
    mtr = asyncio.create_task(run_mtr(target.host, count)) if p["mtr"] else None
    try:
        try:
            summary = await _probe(ctx, target, p, found)
        except PhaseFailed as failure:
            found.status = CheckStatus.FAIL
            summary = f"{target.host}:{target.port}: {failure}"
            found.detail.append(str(failure))
        if mtr is not None:
            _add_mtr(found, await mtr)
        else:
            found.data["mtr"] = {"skipped": "mtr = false"}
    finally:
        if mtr is not None and not mtr.done():  # cancelled: end mtr's process group too
            mtr.cancel()
            await asyncio.wait({mtr})
    if found.warnings and found.status == CheckStatus.WARN:
        summary += "; " + "; ".join(found.warnings)
    return Outcome(found.status, summary, tuple(found.detail), found.data)


async def _probe(ctx: CheckContext, target: Target, p: Mapping[str, Any], found: _Findings) -> str:
    where = f"{target.host}:{target.port}"
    dns_time, addresses = await resolve(target.host, target.port)
    shown = [a[2][0] for a in addresses]
    found.data["dns"] = {"ms": _ms(dns_time), "addresses": shown}
    found.detail.append(f"DNS: {_ms(dns_time)} ms → {', '.join(shown)}")

    connect_time, sock, notes = await connect(addresses, target)
    address = sock.getpeername()[0]
    found.data["connect"] = {"ms": _ms(connect_time), "address": address, "failed": notes}
    found.detail.append(f"TCP connect: {_ms(connect_time)} ms to {address}")
    found.detail.extend(f"  (before: {note})" for note in notes)
    summary = f"{where}: DNS {_ms(dns_time)} ms, connect {_ms(connect_time)} ms"
    if not target.tls:
        sock.close()
        return summary
    return summary + await _tls_phase(ctx, sock, target, p, found)


async def _tls_phase(
    ctx: CheckContext, sock: socket.socket, target: Target, p: Mapping[str, Any], found: _Findings
) -> str:
    verify = bool(p["verify_tls"])
    ca_file = Path(p["ca_file"]) if p.get("ca_file") else None
    try:
        context = tls_context(verify, ca_file)
    except (OSError, ssl.SSLError) as error:
        sock.close()
        raise PhaseFailed(f"TLS: cannot load ca_file {ca_file}: {error}") from None
    deadline = time.monotonic() + TLS_BOUND
    try:
        tls_time, tls = await handshake(sock, target, context, TLS_BOUND)
    except TimeoutError:  # before OSError, of which it is one
        found.data["tls"] = {"verified": False, "error": "timed out"}
        raise PhaseFailed(f"TLS handshake timed out after {TLS_BOUND:g}s") from None
    except ssl.SSLCertVerificationError as error:
        why = verify_reason(error)
        found.data["tls"] = {"verified": False, "error": why}
        await _describe_refused(ctx, target, found, deadline - time.monotonic())
        raise PhaseFailed(f"TLS verification failed: {why}") from None
    except (ssl.SSLError, OSError) as error:
        found.data["tls"] = {"verified": False, "error": str(error)}
        raise PhaseFailed(f"TLS handshake failed: {error}") from None
    certificate: Certificate | None = tls.pop("certificate")
    found.data["tls"] = {"ms": _ms(tls_time), "verified": verify, **tls}
    found.detail.append(f"TLS: {_ms(tls_time)} ms, {tls['version']}, {tls['cipher']}")
    summary = f", TLS {_ms(tls_time)} ms ({tls['version']})"
    if not verify:
        found.detail.append("(certificate not verified: verify_tls = false)")
    if certificate is not None:
        summary += f", certificate {_describe_certificate(ctx, certificate, found)}"
    return summary


def _describe_certificate(ctx: CheckContext, certificate: Certificate, found: _Findings) -> str:
    days = certificate.days_left(ctx.clock())
    expires = certificate.not_after.strftime("%Y-%m-%d %H:%M UTC")
    found.data["tls"].update(
        subject=certificate.subject,
        issuer=certificate.issuer,
        not_after=certificate.not_after.isoformat(),
        days_left=days,
    )
    found.detail.append(f"certificate: {certificate.subject} (issuer {certificate.issuer})")
    found.detail.append(f"expires {expires}: {days} days left")
    if days < 0:
        found.warn(f"certificate expired {-days} days ago")
    elif days < EXPIRY_WARN_DAYS:
        found.warn(f"certificate expires in {days} days")
    return f"{days} days left"


async def _describe_refused(
    ctx: CheckContext, target: Target, found: _Findings, bound: float
) -> None:
    """Fetch the refused certificate again, unverified, to say what it was (best effort)."""
    if bound <= 0.1:
        return
    try:
        async with asyncio.timeout(bound):  # what is left of the TLS phase's bound
            _dns, addresses = await resolve(target.host, target.port)
            _time, sock, _notes = await connect(addresses, target)
            _tls_time, tls = await handshake(sock, target, tls_context(False, None), bound)
    except (PhaseFailed, OSError, ssl.SSLError, ValueError):  # TimeoutError is an OSError
        return
    if tls.get("certificate") is not None:
        _describe_certificate(ctx, tls["certificate"], found)


def _add_mtr(found: _Findings, mtr: dict[str, Any]) -> None:
    found.data["mtr"] = mtr
    if not mtr["installed"]:
        found.detail.append("mtr not installed: no path report")
        return
    if "error" in mtr:
        found.detail.append(mtr["error"])  # a path report missing is never a failure alone
    found.detail.extend(mtr.get("report", "").splitlines())
    hops = mtr.get("hops") or []
    if hops and hops[-1]["loss"] > 0:
        found.warn(f"{hops[-1]['loss']:g}% loss at the last hop ({hops[-1]['host']})")


NETWORK = CheckKind(
    name="network", title="Network path", params=PARAMS, timeout=30.0, run=check_network
)

KINDS: tuple[CheckKind, ...] = (NETWORK,)
