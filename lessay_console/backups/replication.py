"""Payment data replicated in real time (guide 4.1): `pg_stat_replication` on the primary.

The query runs as every SQL of the console does: a new connection, one
read-only transaction with the console's timeouts and application_name
(`sources.postgres.open_connection` and `read_only_transaction`).
Each replica's `replay_lag` is judged against `[backups] replication_max_lag`:
over it WARN, over three times it CRIT; a replica not `streaming` (catching
up, starting) WARN. PostgreSQL shows no lag (NULL) for a replica that has
replayed everything and seen no new WAL since: that is no lag at all.

No replica at all is a warning only where `[backups] replication_expected =
true`; otherwise replication is not watched. A role without pg_read_all_stats
sees replicas but none of their columns: that is said, as UNKNOWN.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass

from lessay_console.backups.compliance import KindState
from lessay_console.config.durations import format_age, format_duration
from lessay_console.config.model import Config, PostgresConfig
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres import (
    TransactionSettings,
    open_connection,
    read_only_transaction,
)
from lessay_console.sources.postgres_dsn import DsnError, Target, parse_dsn
from lessay_console.sources.postgres_errors import query_failure, scrub

# One row even without replicas, so that whether this server is itself a standby is known.
REPLICATION_SQL = """\
SELECT r.application_name, r.client_addr::text, r.state,
       extract(epoch FROM r.replay_lag)::float8, r.sync_state, r.pid, pg_is_in_recovery()
FROM (SELECT 1) AS one LEFT JOIN pg_stat_replication AS r ON true"""
LAG_CRIT_FACTOR = 3.0
_RESULT_LIMIT = 1 << 20  # bytes of rows kept: a primary has a handful of replicas


@dataclass(frozen=True)
class Replica:
    name: str  # application_name (the standby's cluster_name), or its address
    client: str | None
    state: str | None  # streaming, catchup, startup, backup, stopping; None: hidden from us
    lag: float | None  # replay lag, seconds; None: caught up (or hidden)
    sync_state: str | None


@dataclass(frozen=True)
class ReplicationReport:
    state: KindState
    summary: str
    max_lag: float
    replicas: tuple[Replica, ...] = ()
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "summary": self.summary,
            "max_lag_seconds": self.max_lag,
            "reasons": list(self.reasons),
            "replicas": [
                {
                    "name": r.name,
                    "client": r.client,
                    "state": r.state,
                    "replay_lag_seconds": r.lag,
                    "sync_state": r.sync_state,
                }
                for r in self.replicas
            ],
        }


async def check_replication(config: Config) -> ReplicationReport:
    """The replication state of the configured primary; see the module docstring."""
    backups = config.backups
    max_lag, expected = backups.replication_max_lag, backups.replication_expected
    if config.postgres is None:
        return ReplicationReport(KindState.UNWATCHED, "no [postgres] to ask", max_lag)
    try:
        target = parse_dsn(config.postgres.dsn.reveal())
    except DsnError as error:
        return _unreachable(f"[postgres] dsn: {error}", max_lag, expected)
    try:
        rows = await _replication_rows(config.postgres, target)
    except SourceFailure as failure:
        return _unreachable(scrub(failure.message, target), max_lag, expected)
    except Exception as error:
        what = "the replication query"
        failure = query_failure(error, target, what, config.postgres.timeout)
        return _unreachable(failure.message, max_lag, expected)
    standby = bool(rows) and rows[0][6] == "t"
    replicas = tuple(_replica(row) for row in rows if row[5])
    return judge_replication(replicas, max_lag, expected, standby=standby)


async def _replication_rows(config: PostgresConfig, target: Target) -> list[list[str]]:
    """REPLICATION_SQL's rows as text ('' for NULL), in one read-only transaction.

    COPY over the simple query protocol, as every SQL of the console: nothing is
    prepared, so PgBouncer in transaction pooling mode may hand it any server."""
    deadline = time.monotonic() + config.timeout
    connection = await open_connection(config, target, within=config.timeout)
    chunks: list[bytes] = []

    async def keep(data: bytes) -> None:
        if sum(map(len, chunks)) < _RESULT_LIMIT:
            chunks.append(bytes(data))

    try:
        async with read_only_transaction(
            connection, TransactionSettings.for_config(config), deadline
        ):
            await connection.copy_from_query(
                REPLICATION_SQL,
                output=keep,
                format="csv",
                timeout=max(0.001, deadline - time.monotonic()),
            )
    finally:
        if not connection.is_closed():
            try:
                await connection.close(timeout=max(0.001, deadline - time.monotonic()))
            except Exception:  # closing politely failed: drop the socket
                connection.terminate()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return [row for row in csv.reader(io.StringIO(text)) if len(row) == 7]


def _replica(row: list[str]) -> Replica:
    name, client, state, lag, sync_state = row[:5]
    return Replica(
        name=name or client or "?",
        client=client or None,
        state=state or None,
        lag=float(lag) if lag else None,
        sync_state=sync_state or None,
    )


def _unreachable(message: str, max_lag: float, expected: bool) -> ReplicationReport:
    if expected:
        return ReplicationReport(
            KindState.UNKNOWN, f"cannot tell: {message}", max_lag, reasons=(message,)
        )
    return ReplicationReport(KindState.UNWATCHED, f"not checked: {message}", max_lag)


def judge_replication(
    replicas: tuple[Replica, ...], max_lag: float, expected: bool, *, standby: bool = False
) -> ReplicationReport:
    """The state of the replicas a primary reports (pure: the rules of the module)."""
    where = " (this server is itself a standby: point [postgres] at the primary)" * standby
    if not replicas:
        if expected:
            return ReplicationReport(
                KindState.WARN, "no replica streaming" + where, max_lag, (), ("no replica",)
            )
        return ReplicationReport(
            KindState.UNWATCHED,
            "no replica; none expected ([backups] replication_expected = false)" + where,
            max_lag,
        )
    hidden = [r for r in replicas if r.state is None]
    if hidden:
        message = (
            f"{len(hidden)} replica(s) seen, their state hidden: the role needs pg_read_all_stats"
        )
        return ReplicationReport(KindState.UNKNOWN, message, max_lag, replicas, (message,))
    state, reasons = KindState.OK, []
    for replica in replicas:
        lag = replica.lag or 0.0
        if replica.state != "streaming":
            state = max(state, KindState.WARN, key=_rank)
            reasons.append(f"{replica.name} is {replica.state}, not streaming")
        if lag > LAG_CRIT_FACTOR * max_lag:
            state = KindState.CRIT
            reasons.append(f"{replica.name} replays {format_age(lag)} behind")
        elif lag > max_lag:
            state = max(state, KindState.WARN, key=_rank)
            reasons.append(f"{replica.name} replays {format_age(lag)} behind")
    worst = max(replicas, key=lambda r: r.lag or 0.0)
    summary = (
        f"{len(replicas)} replica(s); largest replay lag {format_age(worst.lag or 0.0)} "
        f"({worst.name}), allowed {format_duration(max_lag)}"
    )
    return ReplicationReport(state, summary, max_lag, replicas, tuple(reasons))


def _rank(state: KindState) -> int:
    return (KindState.OK, KindState.WARN, KindState.CRIT).index(state)
