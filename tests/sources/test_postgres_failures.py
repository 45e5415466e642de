"""How the PostgreSQL source fails: typed, readable, redacted, and on time.

Each failure is a real one (a wrong password refused by a real server, a port
nobody listens on, a socket that never answers), and so is TLS: what the
client sends to a server that refuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
import struct
import time

import asyncpg
import pytest

from lessay_console.config.model import PostgresConfig
from lessay_console.config.secrets import Secret
from lessay_console.samples import SourceFailure
from lessay_console.sources.base import PollReport, poll_once
from lessay_console.sources.postgres import (
    PostgresSource,
    TransactionSettings,
    open_connection,
    read_only_transaction,
)
from lessay_console.sources.postgres_dsn import parse_dsn
from lessay_console.sources.postgres_errors import query_failure
from tests.postgres_server import PostgresServer, free_port

SSL_REQUEST = 80877103  # the protocol code of an SSLRequest message


def config_for(dsn: str, **overrides: float) -> PostgresConfig:
    return PostgresConfig(dsn=Secret("env:LESSAY_PG_DSN", dsn), **overrides)


async def polled(dsn: str, **overrides: float) -> PollReport:
    """One poll of a new source, closed afterwards."""
    source = PostgresSource(config_for(dsn, **overrides))
    try:
        return await poll_once(source)
    finally:
        await source.close()


async def failure_of(dsn: str, **overrides: float) -> SourceFailure:
    report = await polled(dsn, **overrides)
    assert report.error is not None, "the poll succeeded"
    return report.error


# --- authentication -----------------------------------------------------------------------


async def test_a_wrong_password_is_an_auth_failure_naming_the_role(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + secrets.token_hex(8)
    role = postgres_server.monitor.name
    failure = await failure_of(postgres_server.dsn_for(role, wrong))
    assert failure.kind == "auth"
    assert f"'{role}'" in failure.message
    assert "password" in failure.message
    for secret in (wrong, postgres_server.monitor.password):
        assert secret not in failure.message
        assert secret not in caplog.text


async def test_an_unknown_role_is_an_auth_failure(postgres_server: PostgresServer) -> None:
    # over TCP the server does not say whether the role exists: the message says both
    failure = await failure_of(postgres_server.dsn_for("lessay_nobody", "whatever"))
    assert failure.kind == "auth"
    assert "role does not exist" in failure.message
    # over the trusted socket it does: the message says how to create it
    failure = await failure_of(postgres_server.socket_dsn("lessay_nobody"))
    assert failure.kind == "auth"
    assert "role 'lessay_nobody' does not exist" in failure.message
    assert "CREATE ROLE lessay_nobody" in failure.message


async def test_a_pg_hba_rejection_is_an_auth_failure_saying_so(
    postgres_server: PostgresServer,
) -> None:
    refused = postgres_server.refused
    if refused is None:
        pytest.skip("only the private cluster has a pg_hba.conf line that rejects a role")
    failure = await failure_of(postgres_server.dsn_for(refused.name, refused.password))
    assert failure.kind == "auth"
    assert "pg_hba.conf" in failure.message
    assert f"'{refused.name}'" in failure.message
    assert refused.password not in failure.message


async def test_a_database_the_role_may_not_connect_to_is_a_permission_failure(
    postgres_server: PostgresServer,
) -> None:
    admin = await asyncpg.connect(postgres_server.superuser_dsn, timeout=10)
    try:
        if not await admin.fetchval("SELECT true FROM pg_database WHERE datname = 'lessay_locked'"):
            await admin.execute("CREATE DATABASE lessay_locked")
        await admin.execute("REVOKE CONNECT ON DATABASE lessay_locked FROM PUBLIC")
    finally:
        await admin.close()
    plain = postgres_server.plain
    failure = await failure_of(postgres_server.dsn_for(plain.name, plain.password, "lessay_locked"))
    assert failure.kind == "permission"
    assert f"GRANT CONNECT ON DATABASE lessay_locked TO {plain.name}" in failure.message


# --- the network --------------------------------------------------------------------------


async def test_a_refused_port_is_a_connect_failure(postgres_server: PostgresServer) -> None:
    monitor = postgres_server.monitor
    failure = await failure_of(
        postgres_server.dsn_for(monitor.name, monitor.password, port=free_port())
    )
    assert failure.kind == "connect"
    assert "refused" in failure.message
    assert monitor.password not in failure.message


async def test_an_unknown_host_is_a_connect_failure() -> None:
    failure = await failure_of("postgresql://monitor:pw@lessay-db.invalid/postgres")
    assert failure.kind == "connect"
    assert "lessay-db.invalid" in failure.message


async def test_a_silent_server_ends_the_poll_at_the_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP (the backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        report = await polled(f"postgresql://monitor:pw@127.0.0.1:{port}/postgres", timeout=1.0)
        elapsed = time.monotonic() - started
    assert report.error is not None
    assert report.error.kind == "timeout"
    assert 0.5 <= elapsed <= 1.0 + 0.2


async def test_a_statement_past_statement_timeout_is_a_timeout_failure(
    postgres_server: PostgresServer,
) -> None:
    monitor = postgres_server.monitor
    dsn = postgres_server.dsn_for(monitor.name, monitor.password)
    config = config_for(dsn, statement_timeout=0.1)
    console = await open_connection(config)
    try:
        with pytest.raises(asyncpg.QueryCanceledError) as raised:
            async with read_only_transaction(console, TransactionSettings.for_config(config)):
                await console.execute("SELECT pg_sleep(3)")
        # the server cancelled it: rolled back, the connection is kept
        assert not console.is_closed()
        assert await console.fetchval("SELECT 1") == 1
    finally:
        await console.close()
    failure = query_failure(raised.value, parse_dsn(dsn), "the activity query", 5.0)
    assert failure.kind == "timeout"
    assert "statement_timeout" in failure.message


# --- TLS on the wire ----------------------------------------------------------------------


def network_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


async def first_messages(host: str) -> tuple[list[bytes], PollReport]:
    """Poll a source against a peer at `host` that refuses TLS: what did the client send?"""
    received: list[bytes] = []

    async def refuse_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            received.append(await reader.readexactly(8))
            writer.write(b"N")  # "no TLS here", as a server without ssl = on answers
            await writer.drain()
            received.append(await reader.read(4096))
        writer.close()

    server = await asyncio.start_server(refuse_tls, host, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        report = await polled(f"postgresql://monitor:pw@{host}:{port}/db", timeout=2.0)
    return received, report


async def test_a_network_server_must_speak_tls() -> None:
    address = network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to listen on")
    received, report = await first_messages(address)
    assert struct.unpack("!ii", received[0]) == (8, SSL_REQUEST)
    # refused TLS, the client gave up: no startup message (the user name) went in clear
    assert received[1:] in ([], [b""])
    assert report.error is not None
    assert report.error.kind == "connect"
    assert "sslmode" in report.error.message


async def test_a_loopback_server_may_go_without_tls() -> None:
    received, report = await first_messages("127.0.0.1")
    assert struct.unpack("!ii", received[0]) == (8, SSL_REQUEST)  # libpq's "prefer" asks first
    assert b"monitor" in received[1]  # then goes on in clear: the startup message
    assert report.error is not None  # this peer is no PostgreSQL
