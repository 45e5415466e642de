"""The `network` check against servers started here on 127.0.0.1; nothing leaves loopback.

Certificates come from the `openssl` command (the venv has no `cryptography`): a test
CA, and leaves it signed that are valid, about to expire, expired, or for another name.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lessay_console.checks import network
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.config import Config
from lessay_console.config.model import EndpointConfig
from tests.helpers import await_until

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command makes the test certificates"
)

CA_CONFIG = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
[ any_name ]
commonName = supplied
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


JANUARY_2020 = "-startdate 20200101000000Z -enddate 20200201000000Z"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    key: Path
    valid: Path  # localhost and 127.0.0.1, 60 days
    expiring: Path  # localhost, 5 days
    expired: Path  # localhost, January 2020
    other_name: Path  # other.example only, 60 days


def openssl(command: str, *more: str, cwd: Path) -> None:
    """`openssl` with the words of `command`, then `more` as they are."""
    argv = ["openssl", *command.split(), *more]
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    d = tmp_path_factory.mktemp("certs")
    (d / "ca.cnf").write_text(CA_CONFIG.format(dir=d))
    (d / "index.txt").write_text("")
    (d / "serial").write_text("01\n")
    curve = "-pkeyopt ec_paramgen_curve:prime256v1"  # EC keys: made in milliseconds
    openssl(
        f"req -x509 -newkey ec {curve} -nodes -keyout ca.key -out ca.pem -days 90",
        *("-subj", "/CN=Lessay Test CA"),
        cwd=d,
    )
    openssl(f"genpkey -algorithm EC {curve} -out leaf.key", cwd=d)

    def leaf(name: str, cn: str, san: str, dates: str) -> Path:
        request = f"req -new -key leaf.key -out {name}.csr -subj /CN={cn}"
        openssl(f"{request} -addext subjectAltName={san}", cwd=d)
        openssl(
            "ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -extensions leaf -notext "
            f"-in {name}.csr -out {name}.pem {dates}",
            cwd=d,
        )
        return d / f"{name}.pem"

    here = "DNS:localhost,IP:127.0.0.1"
    return Certificates(
        ca=d / "ca.pem",
        key=d / "leaf.key",
        valid=leaf("valid", "localhost", here, "-days 60"),
        expiring=leaf("expiring", "localhost", here, "-days 5"),
        expired=leaf("expired", "localhost", here, JANUARY_2020),
        other_name=leaf("other", "other.example", "DNS:other.example", "-days 60"),
    )


@dataclass
class Server:
    port: int
    connections: int = 0


Serve = Callable[..., Awaitable[Server]]
TlsProbe = Callable[..., Awaitable[tuple[int, CheckResult]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers on 127.0.0.1 (TLS with a given certificate, or plain TCP)."""
    servers: list[asyncio.Server] = []

    async def start(cert: Path | None = None, key: Path | None = None) -> Server:
        context = None
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        record = Server(port=0)

        async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            record.connections += 1
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        record.port = server.sockets[0].getsockname()[1]
        return record

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
def probe_tls(serve: Serve, certs: Certificates) -> TlsProbe:
    """Serve a leaf certificate over TLS and run the check at it: (the port, the result).

    The test CA is trusted unless `ca_file` says otherwise (None: the system's CAs).
    """

    async def probe(leaf: Path, host: str = "localhost", **params: Any) -> tuple[int, CheckResult]:
        server = await serve(leaf, certs.key)
        params = {"ca_file": str(certs.ca), **params}
        return server.port, await run(host=host, port=server.port, **params)

    return probe


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def run(config: Config | None = None, limit: float = 10.0, **params: Any) -> CheckResult:
    params.setdefault("mtr", False)
    spec = CheckSpec("net", "network", "Network", params, limit)
    return await run_check(spec, CheckContext(config=config or Config()))


async def test_plain_tcp_is_timed_phase_by_phase(serve: Serve) -> None:
    server = await serve()
    result = await run(host="127.0.0.1", port=server.port, tls=False)
    assert result.status == CheckStatus.PASS, result.summary
    assert result.summary.startswith(f"127.0.0.1:{server.port}: DNS ")
    assert " ms, connect " in result.summary
    assert result.data["dns"]["addresses"] == ["127.0.0.1"]
    assert result.data["connect"]["address"] == "127.0.0.1"
    assert result.data["connect"]["ms"] >= 0
    assert result.data["tls"] is None

    async def connected() -> int:
        return server.connections

    assert await await_until(connected, within=5, interval=0.01) == 1


async def test_localhost_resolves_and_connects(serve: Serve) -> None:
    server = await serve()
    result = await run(host="localhost", port=server.port, tls=False)
    assert result.status == CheckStatus.PASS, result.summary
    assert "127.0.0.1" in result.data["dns"]["addresses"]
    assert result.data["connect"]["address"] == "127.0.0.1"
    # where localhost is ::1 first, the refused IPv6 attempt is told, not fatal
    assert all("::1" in note for note in result.data["connect"]["failed"])


async def test_a_closed_port_fails_as_refused() -> None:
    port = closed_port()
    result = await run(host="127.0.0.1", port=port, tls=False)
    assert result.status == CheckStatus.FAIL
    assert (
        result.summary == f"127.0.0.1:{port}: TCP connect refused (127.0.0.1: Connection refused)"
    )


async def test_tls_verified_against_the_ca_file(probe_tls: TlsProbe, certs: Certificates) -> None:
    _port, result = await probe_tls(certs.valid)
    assert result.status == CheckStatus.PASS, result.summary
    tls = result.data["tls"]
    assert tls["verified"] is True
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["subject"] == "CN=localhost"
    assert tls["issuer"] == "CN=Lessay Test CA"
    assert tls["days_left"] in (59, 60)
    assert f"certificate {tls['days_left']} days left" in result.summary
    assert any(line.startswith("TLS: ") for line in result.detail)


async def test_tls_to_an_address_checks_the_ip_in_the_certificate(
    probe_tls: TlsProbe, certs: Certificates
) -> None:
    _port, result = await probe_tls(certs.valid, host="127.0.0.1")
    assert result.status == CheckStatus.PASS, result.summary


async def test_an_unknown_ca_fails_and_says_so(probe_tls: TlsProbe, certs: Certificates) -> None:
    port, result = await probe_tls(certs.valid, ca_file=None)  # the system's CAs only
    assert result.status == CheckStatus.FAIL
    assert result.summary.startswith(f"localhost:{port}: TLS verification failed: unknown CA")
    assert result.data["tls"]["verified"] is False
    # the refused certificate is still described
    assert result.data["tls"]["issuer"] == "CN=Lessay Test CA"


async def test_a_hostname_mismatch_fails_and_says_so(
    probe_tls: TlsProbe, certs: Certificates
) -> None:
    port, result = await probe_tls(certs.other_name)
    assert result.status == CheckStatus.FAIL
    assert result.summary == f"localhost:{port}: TLS verification failed: hostname mismatch"
    assert result.data["tls"]["subject"] == "CN=other.example"


async def test_an_expired_certificate_fails_and_says_when(
    probe_tls: TlsProbe, certs: Certificates
) -> None:
    port, result = await probe_tls(certs.expired)
    assert result.status == CheckStatus.FAIL
    assert result.summary.startswith(
        f"localhost:{port}: TLS verification failed: certificate expired"
    )
    assert result.data["tls"]["not_after"] == "2020-02-01T00:00:00+00:00"
    assert result.data["tls"]["days_left"] < -365


async def test_without_verification_an_expired_certificate_warns(
    probe_tls: TlsProbe, certs: Certificates
) -> None:
    _port, result = await probe_tls(certs.expired, ca_file=None, verify_tls=False)
    assert result.status == CheckStatus.WARN
    assert "certificate expired" in result.summary
    assert result.data["tls"]["verified"] is False
    assert "(certificate not verified: verify_tls = false)" in result.detail


async def test_a_certificate_expiring_within_14_days_warns(
    probe_tls: TlsProbe, certs: Certificates
) -> None:
    _port, result = await probe_tls(certs.expiring)
    assert result.status == CheckStatus.WARN
    assert result.data["tls"]["days_left"] in (4, 5)
    assert f"certificate expires in {result.data['tls']['days_left']} days" in result.summary


async def test_host_port_and_tls_come_from_a_url(serve: Serve, certs: Certificates) -> None:
    server = await serve(certs.valid, certs.key)
    result = await run(url=f"https://localhost:{server.port}/health", ca_file=str(certs.ca))
    assert result.status == CheckStatus.PASS, result.summary
    assert (result.data["host"], result.data["port"], result.data["tls"]["verified"]) == (
        "localhost",
        server.port,
        True,
    )
    plain = await serve()
    result = await run(url=f"http://127.0.0.1:{plain.port}/")
    assert result.status == CheckStatus.PASS
    assert result.data["tls"] is None


async def test_a_server_that_does_not_speak_tls_fails_the_handshake(
    serve: Serve,
) -> None:
    server = await serve()  # accepts and closes: no TLS
    result = await run(host="127.0.0.1", port=server.port)
    assert result.status == CheckStatus.FAIL
    assert "TLS handshake failed" in result.summary


async def test_a_silent_server_is_cut_at_the_tls_phase_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(network, "TLS_BOUND", 0.3)  # the phase bound, shortened for the test
    with socket.socket() as listener:  # accepts (the kernel does) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = await run(limit=5, host="127.0.0.1", port=port)
    assert result.status == CheckStatus.FAIL
    assert result.summary == f"127.0.0.1:{port}: TLS handshake timed out after 0.3s"
    assert result.elapsed < 2


async def test_mtr_report_or_its_absence(serve: Serve) -> None:
    server = await serve()
    result = await run(host="127.0.0.1", port=server.port, tls=False, mtr=True, mtr_count=1)
    assert result.status == CheckStatus.PASS, result.summary  # never a failure by itself
    if shutil.which("mtr") is None:
        assert result.data["mtr"] == {"installed": False}
        assert "mtr not installed: no path report" in result.detail
    else:
        assert result.data["mtr"]["installed"] is True
        if "error" not in result.data["mtr"]:
            assert result.data["mtr"]["hops"][-1]["host"] == "127.0.0.1"


def test_an_mtr_report_is_read_hop_by_hop() -> None:
    report = """\
Start: 2025-11-30T00:00:00+0000
HOST: bastion                    Loss%   Snt   Last   Avg  Best  Wrst StDev
  1.|-- 10.0.0.1                   0.0%    10    0.4   0.5   0.3   0.9   0.2
  2.|-- ???                      100.0%    10    0.0   0.0   0.0   0.0   0.0
garbage line
  3.|-- 203.0.113.9               20.0%    10   12.1  12.5  11.9  14.0   0.6
"""
    assert network.parse_mtr_report(report) == [
        {"hop": 1, "host": "10.0.0.1", "loss": 0.0, "sent": 10},
        {"hop": 2, "host": "???", "loss": 100.0, "sent": 10},
        {"hop": 3, "host": "203.0.113.9", "loss": 20.0, "sent": 10},
    ]


async def test_neither_host_nor_url_is_an_error() -> None:
    result = await run()
    assert result.status == CheckStatus.ERROR
    assert result.summary == "give host, url or endpoint"


async def test_an_endpoint_of_the_configuration_is_probed(
    serve: Serve,
) -> None:
    server = await serve()
    status_url = f"http://127.0.0.1:{server.port}/api/v2/summary.json"
    config = Config(payments=EndpointConfig(url=status_url))
    result = await run(config, endpoint="payments")
    assert result.status == CheckStatus.PASS, result.summary
    assert (result.data["host"], result.data["port"], result.data["tls"]) == (
        "127.0.0.1",
        server.port,
        None,  # http: no handshake
    )
    result = await run(Config(), endpoint="idp")
    assert result.status == CheckStatus.SKIPPED
    assert result.summary == 'no endpoint to probe: add [idp] discovery_url = "URL"'
