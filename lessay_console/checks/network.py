"""The `network` check: the path to a host, phase by phase, as `mtr` and `openssl s_client` would.

DNS resolution, TCP connect and the TLS handshake are timed one after the other,
each under its own bound inside the check's timeout, so a slow phase is named as
the slow one. The certificate's subject, issuer and expiry come from its DER bytes,
read whether or not it was verified, so an expired or unknown certificate is
described, not only refused. Where `mtr` is installed, its report runs alongside
and the loss at each hop is read from it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lessay_console.checks.command import run_command
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.config import Config

DNS_BOUND = 3.0  # seconds, each phase
CONNECT_BOUND = 5.0
TLS_BOUND = 5.0
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

# OpenSSL's X509_V_ERR codes, as an operator reads them.
_VERIFY_REASONS = {
    9: "certificate not yet valid",
    10: "certificate expired",
    18: "self-signed certificate: unknown CA",
    19: "self-signed certificate in the chain: unknown CA",
    20: "unknown CA: unable to get the local issuer certificate",
    21: "unknown CA: unable to verify the first certificate",
    62: "hostname mismatch",
    64: "IP address mismatch",
}


class PhaseFailed(Exception):
    """A phase that ends the check with a failure; the message says which and why."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: bool


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


# -- the certificate, from DER -------------------------------------------------------

_NAME_KEYS = {
    b"\x55\x04\x03": "CN",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
    b"\x55\x04\x06": "C",
    b"\x55\x04\x07": "L",
    b"\x55\x04\x08": "ST",
}


def _der_items(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, content) elements of a DER sequence's content, in order."""
    position = 0
    while position < len(data):
        tag, first = data[position], data[position + 1]
        position += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            length = int.from_bytes(data[position : position + count], "big")
            position += count
        yield tag, data[position : position + length]
        position += length


def _der_name(content: bytes) -> str:
    parts = []
    for _set_tag, rdn in _der_items(content):
        for _seq_tag, attribute in _der_items(rdn):
            (_oid_tag, oid), (value_tag, value) = list(_der_items(attribute))[:2]
            key = _NAME_KEYS.get(oid)
            if key is None:
                continue
            codec = "utf-16-be" if value_tag == 0x1E else "utf-8"
            parts.append(f"{key}={value.decode(codec, 'replace')}")
    return ", ".join(parts)


def _der_time(tag: int, content: bytes) -> datetime:
    text = content.decode("ascii")
    if tag == 0x17:  # UTCTime, two-digit year: 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_after: datetime

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        (_tag, certificate), *_ = _der_items(der)
        (_tag, tbs), *_ = _der_items(certificate)
        fields = [item for item in _der_items(tbs) if item[0] != 0xA0]  # skip the version
        _serial, _algorithm, issuer, validity, subject = fields[:5]
        _not_before, not_after = list(_der_items(validity[1]))[:2]
        return cls(_der_name(subject[1]), _der_name(issuer[1]), _der_time(*not_after))

    def days_left(self, now: float) -> int:
        return int((self.not_after.timestamp() - now) // 86400)


def _certificate(der: bytes | None) -> Certificate | None:
    if not der:
        return None
    try:
        return Certificate.from_der(der)
    except (ValueError, IndexError):  # a certificate this small reader cannot follow
        return None


# -- the phases ----------------------------------------------------------------------


async def resolve(host: str, port: int) -> tuple[float, list[tuple[Any, ...]]]:
    """(seconds, the addresses to connect to, in the resolver's order)."""
    loop = asyncio.get_running_loop()
    begun = time.monotonic()
    try:
        async with asyncio.timeout(DNS_BOUND):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise PhaseFailed(f"DNS: no answer for {host} within {DNS_BOUND:g}s") from None
    except socket.gaierror as error:
        raise PhaseFailed(f"DNS: cannot resolve {host}: {error.strerror or error}") from None
    seen, addresses = set(), []
    for family, _type, proto, _name, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.add(sockaddr[0])
            addresses.append((family, proto, sockaddr))
    return time.monotonic() - begun, addresses


async def connect(
    addresses: list[tuple[Any, ...]], target: Target
) -> tuple[float, socket.socket, list[str]]:
    """Try each address in turn; (seconds of the one that answered, its socket, notes)."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + CONNECT_BOUND
    notes: list[str] = []
    for family, proto, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setblocking(False)
        begun = time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await loop.sock_connect(sock, sockaddr)
        except TimeoutError:
            sock.close()
            notes.append(f"{sockaddr[0]}: timed out")
            break  # the phase's bound is spent
        except OSError as error:
            sock.close()
            # asyncio words it "Connect call failed (...)"; the errno says what happened
            reason = os.strerror(error.errno) if error.errno else str(error)
            notes.append(f"{sockaddr[0]}: {reason}")
            continue
        except BaseException:
            sock.close()
            raise
        return time.monotonic() - begun, sock, notes
    tried = "; ".join(notes)
    if notes and notes[-1].endswith("timed out"):
        raise PhaseFailed(f"TCP connect timed out after {CONNECT_BOUND:g}s ({tried})")
    if notes and all(note.endswith("Connection refused") for note in notes):
        raise PhaseFailed(f"TCP connect refused ({tried})")
    raise PhaseFailed(f"TCP connect failed ({tried})")


def _tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


async def handshake(
    sock: socket.socket, target: Target, context: ssl.SSLContext, bound: float
) -> tuple[float, dict[str, Any]]:
    """TLS over the connected `sock` (which it takes over); (seconds, what was negotiated)."""
    begun = time.monotonic()
    try:
        async with asyncio.timeout(bound):
            _reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname=target.host
            )
    except BaseException:
        sock.close()
        raise
    try:
        elapsed = time.monotonic() - begun
        tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
        cipher = tls.cipher()
        der = tls.getpeercert(binary_form=True)
        return elapsed, {
            "version": tls.version(),
            "cipher": cipher[0] if cipher else None,
            "certificate": _certificate(der),
        }
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass  # closing is a courtesy to the server


def _verify_reason(error: ssl.SSLCertVerificationError) -> str:
    return _VERIFY_REASONS.get(error.verify_code, error.verify_message or str(error))


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


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's parameters over the kind's defaults (a spec built in code may omit some)."""
    given = {name: value for name, value in params.items() if value is not None}
    return {param.name: param.default for param in PARAMS} | given


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
    p = _params(params)
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
        context = _tls_context(verify, ca_file)
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
        why = _verify_reason(error)
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
            _tls_time, tls = await handshake(sock, target, _tls_context(False, None), bound)
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


KINDS: tuple[CheckKind, ...] = (
    CheckKind(name="network", title="Network path", params=PARAMS, timeout=30.0, run=check_network),
)
