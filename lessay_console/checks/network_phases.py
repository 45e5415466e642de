"""The phases of the `network` check: DNS, TCP connect and the TLS handshake, each timed.

Each phase runs under its own bound, so a slow phase is named as the slow one;
a phase that fails raises `PhaseFailed` saying which and why.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lessay_console.checks.certificate import read_certificate

# Seconds each phase may take; the handshake is given its bound (`network.TLS_BOUND`).
DNS_BOUND = 3.0
CONNECT_BOUND = 5.0

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
    """Where the check goes, and whether a TLS handshake follows the connect."""

    host: str
    port: int
    tls: bool


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


def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
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
            "certificate": read_certificate(der),
        }
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass  # closing is a courtesy to the server


def verify_reason(error: ssl.SSLCertVerificationError) -> str:
    return _VERIFY_REASONS.get(error.verify_code, error.verify_message or str(error))
