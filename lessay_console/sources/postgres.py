"""The PostgreSQL source: sessions by state, lock waits, the longest query, probe latency.

One connection is kept open across polls and made again after a failure.
Nothing is set on the session: PgBouncer in transaction pooling mode hands a
server connection to another client between two transactions, so a session
`SET` would stay behind for that client (a `default_transaction_read_only`
failing the application's writes) while the console's own next transaction
ran elsewhere without it. Instead each poll is one explicit transaction that
carries its own settings (`read_only_transaction`): `BEGIN READ ONLY` and
`SET LOCAL`s of bounded statement and lock waits and of `application_name =
'lessay-console'` (so that a DBA sees who is polling), all in one round trip;
then the activity figures in one SQL statement; then a trivial probe the
client times; then `COMMIT`. Four round trips, all over the simple query
protocol (the statement as `COPY (...) TO STDOUT`), so nothing relies on a
prepared statement. A failed transaction is rolled back; a connection whose
transaction state is unknown (a client-side timeout, a cut poll, a lost
connection) is dropped and made again at the next poll.

asyncpg is imported only when a connection is made: the console's start-up
does not pay for it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lessay_console.config.model import PostgresConfig
from lessay_console.samples import Collected, Sample, SourceFailure, labels_of
from lessay_console.sources.postgres_dsn import DsnError, Target, parse_dsn, ssl_argument
from lessay_console.sources.postgres_errors import (
    connect_failure,
    is_connection_lost,
    query_failure,
)

if TYPE_CHECKING:
    from asyncpg import Connection

log = logging.getLogger(__name__)

APPLICATION_NAME = "lessay-console"
# states shown even at zero, so that a dashboard series does not vanish when idle
BASE_STATES = ("active", "idle", "idle in transaction")

# Client backends other than the console's own. For a role without
# pg_read_all_stats the sessions of other roles show backend_type and state as
# NULL, but still datid and usesysid (which background processes lack): they
# are counted with the state "unknown".
ACTIVITY_SQL = """\
WITH sessions AS (
    SELECT state, wait_event_type, query_start
    FROM pg_stat_activity
    WHERE pid <> pg_backend_pid()
      AND (backend_type = 'client backend'
           OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL))
)
SELECT
    current_setting('max_connections')::int,
    (SELECT coalesce(json_object_agg(state, n), '{}')
       FROM (SELECT coalesce(state, 'unknown') AS state, count(*) AS n
               FROM sessions GROUP BY 1) AS by_state),
    (SELECT count(*) FROM sessions WHERE wait_event_type = 'Lock'),
    (SELECT count(*) FROM sessions WHERE state LIKE 'idle in transaction%'),
    (SELECT coalesce(extract(epoch FROM max(clock_timestamp() - query_start)), 0)
       FROM sessions WHERE state = 'active'),
    (SELECT count(*) FROM sessions WHERE state IS NULL),
    pg_has_role('pg_read_all_stats', 'USAGE'),
    current_user"""

PROBE_SQL = "SELECT 1"


@dataclass(frozen=True)
class TransactionSettings:
    """What each of the console's transactions sets with `SET LOCAL`; times in milliseconds."""

    statement_timeout: int
    lock_timeout: int
    idle_in_transaction_session_timeout: int

    @classmethod
    def for_config(cls, config: PostgresConfig) -> TransactionSettings:
        # a statement may not outlive a poll: never longer than the interval or
        # the poll's timeout; at least 1 ms, since 0 would mean "no limit"
        limit = min(config.statement_timeout, config.interval, config.timeout)
        statement = max(1, round(limit * 1000))
        return cls(statement, max(1, statement // 2), statement)

    def begin_sql(self) -> str:
        """BEGIN READ ONLY and the SET LOCALs: one simple-protocol round trip.

        The values are integers we made. `SET LOCAL` ends with the transaction:
        nothing stays on the (possibly pooled) server connection.
        """
        return (
            "BEGIN READ ONLY; "
            f"SET LOCAL statement_timeout = {self.statement_timeout}; "
            f"SET LOCAL lock_timeout = {self.lock_timeout}; "
            "SET LOCAL idle_in_transaction_session_timeout = "
            f"{self.idle_in_transaction_session_timeout}; "
            f"SET LOCAL application_name = '{APPLICATION_NAME}'"
        )


async def open_connection(
    config: PostgresConfig, target: Target | None = None, within: float | None = None
) -> Connection:
    """A connection for the console's SQL. Raises `SourceFailure`.

    Nothing is set on its session: run SQL on it only inside
    `read_only_transaction(connection, TransactionSettings.for_config(config))`,
    which gives every transaction the console's settings. `within` bounds
    connecting, in seconds (default: the config's poll timeout).
    """
    import asyncpg

    if target is None:
        target = _parse(config)
    budget = config.timeout if within is None else within
    try:
        return await asyncpg.connect(
            target.uri,
            ssl=ssl_argument(target),
            timeout=budget,
            command_timeout=config.timeout,
            # no named prepared statements: PgBouncer in transaction mode may
            # run the next transaction on another server connection
            statement_cache_size=0,
        )
    except Exception as error:
        raise connect_failure(error, target, budget) from None


@asynccontextmanager
async def read_only_transaction(
    connection: Connection, settings: TransactionSettings, deadline: float | None = None
) -> AsyncIterator[Connection]:
    """One read-only transaction carrying the console's settings, committed at the end.

    `BEGIN READ ONLY` and the `SET LOCAL`s go in one round trip; they end with
    the transaction. When the block raises, a server error (the transaction is
    merely aborted) is rolled back and the connection kept; any other failure
    (a client-side timeout, a cancellation, a lost connection, a failed
    ROLLBACK) leaves the transaction's state unknown, so the connection is
    terminated: make a new one. The error is raised as it came (asyncpg's).

    `deadline` (a `time.monotonic()` instant) bounds BEGIN, COMMIT and
    ROLLBACK; without it the connection's `command_timeout` does.
    """

    def left() -> float | None:
        return None if deadline is None else _left(deadline)

    try:
        await connection.execute(settings.begin_sql(), timeout=left())
        yield connection
        await connection.execute("COMMIT", timeout=left())
    except BaseException as error:
        await _end_failed(connection, error, left)
        raise
    if connection.is_in_transaction():  # the block began another one: never leave it open
        connection.terminate()


async def _end_failed(
    connection: Connection, error: BaseException, left: Callable[[], float | None]
) -> None:
    """Roll back after a server error; drop the connection when its state is unknown."""
    if connection.is_closed():
        return
    server_error = getattr(error, "sqlstate", None) and not is_connection_lost(error)
    if not (isinstance(error, Exception) and server_error):
        connection.terminate()
        return
    try:
        await connection.execute("ROLLBACK", timeout=left())
    except Exception:  # the original error is the one to report
        connection.terminate()
    except BaseException:  # cancelled while rolling back
        connection.terminate()
        raise
    else:
        if connection.is_in_transaction():
            connection.terminate()


class PostgresSource:
    """Polls `pg_stat_activity` over one kept connection; see the module docstring."""

    name = "postgres"

    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self.interval = config.interval
        self.timeout = config.timeout
        # our own deadline falls a little before poll_once's cut, so that a
        # slow server is reported with what was slow rather than a bare timeout
        self._budget = config.timeout - min(0.2, config.timeout * 0.1)
        self._settings = TransactionSettings.for_config(config)
        self._connection: Connection | None = None
        self._target: Target | None = None
        self._dsn_error: str | None = None
        try:
            self._target = parse_dsn(config.dsn.reveal())
        except DsnError as error:
            self._dsn_error = str(error)

    async def collect(self) -> Collected:
        target = self._checked_target()
        deadline = time.monotonic() + self._budget
        kept = self._connection is not None and not self._connection.is_closed()
        try:
            try:
                return await self._poll(target, deadline)
            except SourceFailure as failure:
                if not (kept and failure.kind == "connect"):
                    raise
                # the kept connection was dropped since the last poll (a server
                # restart, pg_terminate_backend, an idle timeout on the way):
                # one fresh connection within the same poll
                log.info("postgres: %s", failure.message)
                self._discard()
                return await self._poll(target, deadline)
        except BaseException:
            # read_only_transaction has rolled back, or terminated a connection
            # whose state it could not know: a closed one is made again
            if self._connection is not None and self._connection.is_closed():
                self._connection = None
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            await connection.close(timeout=min(1.0, self.timeout))
        except Exception:  # closing politely failed: drop the socket
            connection.terminate()

    def _checked_target(self) -> Target:
        if self._target is None:
            raise SourceFailure("config", f"[postgres] dsn: {self._dsn_error}")
        return self._target

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def _poll(self, target: Target, deadline: float) -> Collected:
        if self._connection is None or self._connection.is_closed():
            self._connection = await open_connection(self.config, target, _left(deadline))
        connection = self._connection
        chunks: list[bytes] = []

        async def keep(data: bytes) -> None:
            chunks.append(data)

        what = "the transaction set-up"
        try:
            async with read_only_transaction(connection, self._settings, deadline):
                what = "the activity query"
                await connection.copy_from_query(
                    ACTIVITY_SQL, output=keep, format="csv", timeout=_left(deadline)
                )
                what = "the probe query"
                started = time.perf_counter()  # the probe's round trip alone
                await connection.execute(PROBE_SQL, timeout=_left(deadline))
                latency = time.perf_counter() - started
                what = "the commit"
        except Exception as error:
            raise query_failure(error, target, what, self.timeout) from None
        return activity_samples(b"".join(chunks), latency)


def activity_samples(copied: bytes, probe_latency: float) -> Collected:
    """Samples and notes from the activity statement's one CSV row."""
    try:
        row = next(csv.reader(io.StringIO(copied.decode("utf-8"))))
        max_connections, states_json, lock_waits, idle_tx, longest, hidden, can_read, role = row
        states: dict[str, int] = {state: 0 for state in BASE_STATES}
        states.update(json.loads(states_json))
        samples = [
            Sample("pg_connections", float(count), labels_of(state=state))
            for state, count in sorted(states.items())
        ]
        samples += [
            Sample("pg_max_connections", float(max_connections)),
            Sample("pg_lock_waits", float(lock_waits)),
            Sample("pg_idle_in_transaction", float(idle_tx)),
            Sample("pg_longest_query_seconds", max(0.0, float(longest))),
            Sample("pg_probe_latency_seconds", probe_latency),
        ]
    except (StopIteration, ValueError) as error:
        raise SourceFailure("parse", f"unexpected answer to the activity query: {error}") from None
    notes: tuple[str, ...] = ()
    if can_read != "t":
        notes = (_hidden_note(role, int(hidden)),)
    return Collected(tuple(samples), notes=notes)


def _hidden_note(role: str, hidden: int) -> str:
    if hidden:
        what = f"states of {hidden} other session{'s' if hidden != 1 else ''} are hidden"
    else:
        what = "sessions of other roles would be hidden"
    return (
        f"role '{role}' lacks pg_read_all_stats: {what} (their lock waits and query ages "
        f"are not counted); GRANT pg_read_all_stats TO {role}"
    )


def _parse(config: PostgresConfig) -> Target:
    try:
        return parse_dsn(config.dsn.reveal())
    except DsnError as error:
        raise SourceFailure("config", f"[postgres] dsn: {error}") from None


def _left(deadline: float) -> float:
    """Seconds until `deadline`; a sliver when passed, so asyncpg times out at once."""
    return max(0.001, deadline - time.monotonic())
