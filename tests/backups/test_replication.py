"""Replication lag from pg_stat_replication: a real primary without replicas, one with a real
streaming standby, and the rules on made-up replicas."""

from __future__ import annotations

import pytest

from lessay_console.backups.compliance import KindState
from lessay_console.backups.replication import (
    Replica,
    ReplicationReport,
    check_replication,
    judge_replication,
)
from lessay_console.config import Config
from lessay_console.config.model import BackupsConfig, PostgresConfig
from lessay_console.config.secrets import Secret
from tests.backups.pgbackrest_cluster import PLAIN_ROLE, PgBackRestCluster
from tests.helpers import await_until
from tests.postgres_server import PostgresServer


def config_for(dsn: str, *, expected: bool = False, max_lag: float = 30.0) -> Config:
    return Config(
        postgres=PostgresConfig(dsn=Secret("env:LESSAY_PG_DSN", dsn)),
        backups=BackupsConfig(replication_expected=expected, replication_max_lag=max_lag),
    )


async def test_no_replica_is_not_watched_unless_expected(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn_for(postgres_server.monitor.name, postgres_server.monitor.password)
    skipped = await check_replication(config_for(dsn))
    assert skipped.state is KindState.UNWATCHED
    assert skipped.summary == "no replica; none expected ([backups] replication_expected = false)"
    warned = await check_replication(config_for(dsn, expected=True))
    assert (warned.state, warned.summary) == (KindState.WARN, "no replica streaming")


async def test_an_unreachable_primary_is_unknown_only_when_replication_is_expected() -> None:
    dsn = "postgresql://nobody@127.0.0.1:9/postgres?connect_timeout=2"
    expected = await check_replication(config_for(dsn, expected=True))
    assert expected.state is KindState.UNKNOWN and "cannot tell:" in expected.summary
    assert (await check_replication(config_for(dsn))).state is KindState.UNWATCHED
    assert (await check_replication(Config())).summary == "no [postgres] to ask"


async def test_a_real_streaming_standby_is_ok(standby: PgBackRestCluster) -> None:
    config = config_for(standby.socket_dsn(), expected=True)

    async def streaming() -> ReplicationReport | None:  # the standby may still be starting
        report = await check_replication(config)
        return report if report.replicas and report.replicas[0].state == "streaming" else None

    report = await await_until(streaming, within=30, interval=0.2)
    assert report.state is KindState.OK, report.reasons
    (replica,) = report.replicas
    assert (replica.name, replica.sync_state) == ("lessay_dr", "async")
    assert replica.lag is None or 0 <= replica.lag < 30
    assert report.summary.startswith("1 replica(s); largest replay lag ")
    # the standby itself has no replica: said so, with the advice
    on_standby = await check_replication(
        config_for(standby.socket_dsn(standby.standby_port), expected=True)
    )
    assert on_standby.state is KindState.WARN
    assert "this server is itself a standby" in on_standby.summary


async def test_a_role_without_pg_read_all_stats_sees_the_replica_but_not_its_state(
    standby: PgBackRestCluster,
) -> None:
    dsn = standby.socket_dsn().replace("postgres@", f"{PLAIN_ROLE}@", 1)
    report = await await_until(
        lambda: _with_replica(config_for(dsn, expected=True)), within=30, interval=0.2
    )
    assert report.state is KindState.UNKNOWN
    assert report.summary == (
        "1 replica(s) seen, their state hidden: the role needs pg_read_all_stats"
    )


async def _with_replica(config: Config) -> ReplicationReport | None:
    report = await check_replication(config)
    return report if report.replicas else None


@pytest.mark.parametrize(
    ("replicas", "state", "reasons"),
    [
        ((Replica("dr", None, "streaming", None, "async"),), KindState.OK, ()),
        ((Replica("dr", None, "streaming", 29.0, "async"),), KindState.OK, ()),
        (
            (Replica("dr", None, "streaming", 31.0, "async"),),
            KindState.WARN,
            ("dr replays 31s behind",),
        ),
        (
            (Replica("dr", None, "catchup", 1.0, "async"),),
            KindState.WARN,
            ("dr is catchup, not streaming",),
        ),
        (
            (
                Replica("dr", None, "streaming", 2.0, "async"),
                Replica("dr2", None, "streaming", 95.0, "async"),
            ),
            KindState.CRIT,
            ("dr2 replays 1m35s behind",),
        ),
    ],
)
def test_lag_rules(
    replicas: tuple[Replica, ...], state: KindState, reasons: tuple[str, ...]
) -> None:
    report = judge_replication(replicas, 30.0, expected=False)
    assert (report.state, report.reasons) == (state, reasons)


def test_replicas_hidden_from_the_role_are_unknown() -> None:
    report = judge_replication((Replica("?", None, None, None, None),), 30.0, expected=True)
    assert report.state is KindState.UNKNOWN
    assert "the role needs pg_read_all_stats" in report.summary
