"""The PostgreSQL source's pure parts: DSN reading, the TLS decision, the transaction settings."""

from __future__ import annotations

import pytest

from lessay_console.config.model import PostgresConfig
from lessay_console.config.secrets import Secret
from lessay_console.sources.postgres import PostgresSource, TransactionSettings
from lessay_console.sources.postgres_dsn import (
    DsnError,
    is_local,
    parse_dsn,
    ssl_argument,
    tls_mode,
)

PASSWORD = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "/var/run/postgresql", "@abstract"],
)
def test_loopback_and_sockets_are_local(host: str) -> None:
    assert is_local(host)


@pytest.mark.parametrize(
    "host", ["db.lessay.example", "10.0.1.5", "192.168.1.20", "2001:db8::1", "localhost.evil.com"]
)
def test_network_hosts_are_not_local(host: str) -> None:
    assert not is_local(host)


def test_a_network_server_is_verified_in_full() -> None:
    assert tls_mode(["db.lessay.example"], None) == "verify-full"
    assert tls_mode(["10.0.1.5"], None) == "verify-full"


def test_one_network_host_among_local_ones_is_enough_to_verify() -> None:
    assert tls_mode(["/run/postgresql", "db.lessay.example"], None) == "verify-full"


@pytest.mark.parametrize("mode", ["disable", "prefer", "require", "verify-ca"])
def test_an_explicit_sslmode_wins_for_a_network_server(mode: str) -> None:
    assert tls_mode(["db.lessay.example"], mode) is None


@pytest.mark.parametrize("hosts", [["127.0.0.1"], ["localhost"], ["/run/postgresql"], []])
def test_local_servers_keep_what_the_dsn_says(hosts: list[str]) -> None:
    assert tls_mode(hosts, None) is None


def test_ssl_argument_follows_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    monkeypatch.delenv("PGHOST", raising=False)
    # no CA file anywhere: verify-full against the system's trust store (ssl=True)
    assert ssl_argument(parse_dsn("postgresql://u@db.lessay.example/app")) is True
    with_ca = parse_dsn("postgresql://u@db.lessay.example/app?sslrootcert=/etc/ca.pem")
    assert ssl_argument(with_ca) == "verify-full"
    assert ssl_argument(parse_dsn("postgresql://u@db.lessay.example/app?sslmode=require")) is None
    assert ssl_argument(parse_dsn("postgresql://u@127.0.0.1/app")) is None
    assert ssl_argument(parse_dsn("postgresql://u@/app")) is None
    monkeypatch.setenv("PGHOST", "db.lessay.example")
    assert ssl_argument(parse_dsn("postgresql://u@/app")) is True
    monkeypatch.setenv("PGSSLMODE", "disable")
    assert ssl_argument(parse_dsn("postgresql://u@db.lessay.example/app")) is None


def test_uri_dsn_is_read() -> None:
    target = parse_dsn(
        f"postgresql://monitor:{PASSWORD}@db1:5433,db2/lessay?sslmode=verify-ca&connect_timeout=9"
    )
    assert target.hosts == ("db1", "db2")
    assert target.ports == ("5433",)
    assert (target.user, target.database, target.sslmode) == ("monitor", "lessay", "verify-ca")
    assert target.password == PASSWORD
    assert target.where() == "db1:5433, db2:5433/lessay"
    # libpq's connect_timeout would reach the server as a startup parameter through asyncpg
    assert "connect_timeout" not in target.uri
    assert "sslmode=verify-ca" in target.uri


def test_keyword_dsn_becomes_a_uri() -> None:
    target = parse_dsn(
        f"host=/run/postgresql port=6432 dbname=lessay user=monitor password='{PASSWORD} x\\'y'"
    )
    assert target.hosts == ("/run/postgresql",)
    assert target.password == f"{PASSWORD} x'y"
    assert target.uri.startswith("postgresql:///?")
    assert target.where() == "/run/postgresql/.s.PGSQL.6432 (database lessay)"


def test_the_password_never_shows() -> None:
    target = parse_dsn(f"postgresql://monitor:{PASSWORD}@db1/lessay")
    assert PASSWORD not in repr(target)
    assert PASSWORD not in str(target)
    assert PASSWORD not in target.where()


@pytest.mark.parametrize(
    "dsn", [f"mysql://root:{PASSWORD}@db/x", f"host=db password={PASSWORD} 'broken", ""]
)
def test_a_bad_dsn_is_a_config_failure_that_does_not_quote_it(dsn: str) -> None:
    with pytest.raises(DsnError) as raised:
        parse_dsn(dsn)
    assert PASSWORD not in str(raised.value)


async def test_a_source_with_a_bad_dsn_fails_with_config() -> None:
    source = PostgresSource(PostgresConfig(Secret("env:PG", f"mysql://root:{PASSWORD}@db/x")))
    from lessay_console.sources.base import poll_once

    report = await poll_once(source)
    assert report.error is not None
    assert report.error.kind == "config"
    assert PASSWORD not in report.error.message


@pytest.mark.parametrize(
    ("statement", "interval", "timeout", "expected"),
    [(2.0, 5.0, 5.0, 2000), (30.0, 1.5, 5.0, 1500), (30.0, 10.0, 3.0, 3000), (0.0, 5.0, 5.0, 1)],
)
def test_statement_timeout_never_outlives_a_poll(
    statement: float, interval: float, timeout: float, expected: int
) -> None:
    config = PostgresConfig(Secret("env:PG", "postgresql:///"), statement, timeout, interval)
    settings = TransactionSettings.for_config(config)
    assert settings.statement_timeout == expected
    assert 0 < settings.lock_timeout <= settings.statement_timeout
    assert settings.idle_in_transaction_session_timeout > 0


def test_the_settings_are_set_for_the_transaction_only() -> None:
    config = PostgresConfig(Secret("env:PG", "postgresql:///"), 2.0, 5.0, 5.0)
    statements = [
        part.strip() for part in TransactionSettings.for_config(config).begin_sql().split(";")
    ]
    assert statements[0] == "BEGIN READ ONLY"
    assert statements[1:] == [
        "SET LOCAL statement_timeout = 2000",
        "SET LOCAL lock_timeout = 1000",
        "SET LOCAL idle_in_transaction_session_timeout = 2000",
        "SET LOCAL application_name = 'lessay-console'",
    ]
