"""The PostgreSQL source against a real server (and a real PgBouncer).

Counts are exact: each test first waits until the sessions of earlier tests
are gone (`settle`), then compares what the source reports with what it made
happen. Nothing waits with a bare sleep: conditions are polled with a deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from lessay_console.config.model import PostgresConfig
from lessay_console.config.secrets import Secret
from lessay_console.sources.base import PollReport, poll_once
from lessay_console.sources.postgres import (
    APPLICATION_NAME,
    PostgresSource,
    TransactionSettings,
    open_connection,
    read_only_transaction,
)
from lessay_console.sources.postgres_dsn import parse_dsn
from tests.helpers import await_until
from tests.postgres_server import PgBouncerServer, PostgresServer
from tests.postgres_sessions import TEST_APP, OpenSession

# what the console's transactions set, read back where they run
SETTINGS_SQL = """\
SELECT pg_backend_pid() AS pid,
    current_setting('transaction_read_only') AS transaction_read_only,
    current_setting('default_transaction_read_only') AS default_transaction_read_only,
    current_setting('statement_timeout') AS statement_timeout,
    current_setting('lock_timeout') AS lock_timeout,
    current_setting('idle_in_transaction_session_timeout')
        AS idle_in_transaction_session_timeout,
    current_setting('application_name') AS application_name"""
LOCK_HELD = 0.3  # seconds a poll is kept waiting on a lock, to be seen running
# the settings a session has when nobody SET anything (read from the admin's session)
DEFAULTED = (
    "transaction_read_only",
    "default_transaction_read_only",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
)

MakeSource = Callable[..., PostgresSource]


def config_for(dsn: str, **overrides: float) -> PostgresConfig:
    return PostgresConfig(dsn=Secret("env:LESSAY_PG_DSN", dsn), **overrides)


@pytest.fixture
async def sources() -> AsyncIterator[MakeSource]:
    """Make PostgreSQL sources; every one is closed at teardown."""
    made: list[PostgresSource] = []

    def make(dsn: str, **overrides: float) -> PostgresSource:
        source = PostgresSource(config_for(dsn, **overrides))
        made.append(source)
        return source

    yield make
    for source in made:
        await source.close()


@pytest.fixture
async def admin(postgres_server: PostgresServer, sessions: OpenSession) -> asyncpg.Connection:
    """A superuser session, opened once earlier tests' sessions have gone."""
    connection = await sessions()
    await settle(connection, [postgres_server.monitor.name, postgres_server.plain.name])
    return connection


async def settle(admin: asyncpg.Connection, roles: list[str]) -> None:
    """Wait until no session of an earlier test (or console) is left but `admin`.

    A console's session is named only while it polls: between polls (and
    PgBouncer's server connections) it is found by its role.
    """

    async def quiet() -> bool:
        return bool(
            await admin.fetchval(
                "SELECT count(*) = 0 FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() "
                "AND (application_name = ANY($1::text[]) OR usename = ANY($2::text[]))",
                [TEST_APP, APPLICATION_NAME],
                roles,
            )
        )

    await await_until(quiet, within=10, interval=0.05)


async def poll(source: PostgresSource) -> PollReport:
    """One poll that must succeed (a failure is not an AssertionError, so that
    `await_until` does not take it for "not yet")."""
    report = await poll_once(source)
    if report.error is not None:
        pytest.fail(f"poll failed: {report.error.kind}: {report.error.message}")
    return report


def value(report: PollReport, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    for sample in report.samples:
        if sample.name == name and sample.labels == wanted:
            return sample.value
    return 0.0 if name == "pg_connections" else pytest.fail(f"no sample {name}{labels}")


def described(report: PollReport) -> str:
    return ", ".join(f"{s.name}{dict(s.labels) or ''}={s.value:g}" for s in report.samples)


async def poll_until(
    source: PostgresSource, check: Callable[[PollReport], bool], within: float = 10.0
) -> PollReport:
    """Poll `source` until `check` holds for a report; fail with the last samples."""
    last: list[PollReport] = []

    async def probe() -> PollReport | None:
        report = await poll(source)
        last[:] = [report]
        return report if check(report) else None

    try:
        return await await_until(probe, within=within, interval=0.05)
    except AssertionError:
        pytest.fail(f"condition not met within {within}s; last poll: {described(last[0])}")


async def console_pids(admin: asyncpg.Connection, monitor_dsn: str) -> list[int]:
    """The backends of the monitor role other than test sessions: the console's."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity "
        "WHERE usename = $1 AND application_name IS DISTINCT FROM $2 ORDER BY pid",
        parse_dsn(monitor_dsn).role,
        TEST_APP,
    )
    return [row["pid"] for row in rows]


async def settings_of(connection: asyncpg.Connection) -> dict[str, str | int]:
    return dict(await connection.fetchrow(SETTINGS_SQL))


async def defaults(admin: asyncpg.Connection) -> dict[str, str | int]:
    """The settings of a session nobody SET anything on (the admin's)."""
    settings = await settings_of(admin)
    return {name: settings[name] for name in DEFAULTED}


def defaulted(settings: dict[str, str | int]) -> dict[str, str | int]:
    return {name: settings[name] for name in DEFAULTED}


async def holding_the_activity_view(admin: asyncpg.Connection) -> asyncpg.transaction.Transaction:
    """Lock pg_stat_activity in `admin`: the console's activity query waits on it.

    (LOCK on a view also locks the catalogs it reads, pg_authid among them: new
    connections wait too, so the console must be connected before.)
    """
    holding = admin.transaction()
    await holding.start()
    await admin.execute("LOCK TABLE pg_catalog.pg_stat_activity IN ACCESS EXCLUSIVE MODE")
    return holding


async def lock_waiter(admin: asyncpg.Connection, pid: int) -> asyncpg.Record:
    """Wait until backend `pid` waits on a lock; its pg_stat_activity row."""

    async def waiting() -> asyncpg.Record | None:
        # inside a transaction pg_stat_activity is read from a snapshot taken at
        # its first read (only wait events are live): take a fresh one each time
        await admin.execute("SELECT pg_stat_clear_snapshot()")
        row = await admin.fetchrow(
            "SELECT application_name, state, wait_event_type, query "
            "FROM pg_stat_activity WHERE pid = $1",
            pid,
        )
        return row if row is not None and row["wait_event_type"] == "Lock" else None

    return await await_until(waiting, within=5, interval=0.01)


# --- what the source measures -------------------------------------------------------------


async def test_counts_leave_out_the_console_session(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    report = await poll(sources(monitor_dsn))
    counted = sum(s.value for s in report.samples if s.name == "pg_connections")
    everyone = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    )
    assert counted == everyone - 1  # the admin sees the console's session; the console does not


async def test_idle_sessions_are_counted(
    admin: asyncpg.Connection, sessions: OpenSession, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    before = value(await poll(source), "pg_connections", state="idle")
    for _ in range(3):
        await sessions()
    await poll_until(source, lambda r: value(r, "pg_connections", state="idle") == before + 3)


async def test_the_longest_running_query_is_timed(
    admin: asyncpg.Connection, sessions: OpenSession, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    assert value(await poll(source), "pg_longest_query_seconds") == 0.0
    sleeper = await sessions()
    started = time.monotonic()
    sleeping = asyncio.create_task(sleeper.execute("SELECT pg_sleep(5)"))
    report = await poll_until(source, lambda r: value(r, "pg_longest_query_seconds") >= 0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= value(report, "pg_longest_query_seconds") <= elapsed + 0.05
    assert value(report, "pg_connections", state="active") == 1
    await admin.execute("SELECT pg_cancel_backend($1)", sleeper.get_server_pid())
    with pytest.raises(asyncpg.QueryCanceledError):
        await sleeping
    await poll_until(source, lambda r: value(r, "pg_longest_query_seconds") == 0.0)


async def test_a_lock_wait_is_counted(
    admin: asyncpg.Connection, sessions: OpenSession, sources: MakeSource, monitor_dsn: str
) -> None:
    await admin.execute(
        "DROP TABLE IF EXISTS lessay_lock_probe; "
        "CREATE TABLE lessay_lock_probe (id int PRIMARY KEY, n int); "
        "INSERT INTO lessay_lock_probe VALUES (1, 0)"
    )
    source = sources(monitor_dsn)
    assert value(await poll(source), "pg_lock_waits") == 0
    holder, waiter = await sessions(), await sessions()
    holding = holder.transaction()
    await holding.start()
    await holder.execute("UPDATE lessay_lock_probe SET n = 1 WHERE id = 1")
    waiting = asyncio.create_task(waiter.execute("UPDATE lessay_lock_probe SET n = 2 WHERE id = 1"))
    try:
        await poll_until(source, lambda r: value(r, "pg_lock_waits") == 1)
    finally:
        await holding.rollback()
        await waiting
    await poll_until(source, lambda r: value(r, "pg_lock_waits") == 0)
    await admin.execute("DROP TABLE lessay_lock_probe")


async def test_sessions_idle_in_transaction_are_counted(
    admin: asyncpg.Connection, sessions: OpenSession, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    assert value(await poll(source), "pg_idle_in_transaction") == 0
    idle, aborted = await sessions(), await sessions()
    await idle.execute("BEGIN; SELECT 1")
    await aborted.execute("BEGIN")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await aborted.execute("SELECT 1 / 0")
    report = await poll_until(source, lambda r: value(r, "pg_idle_in_transaction") == 2)
    assert value(report, "pg_connections", state="idle in transaction") == 1
    assert value(report, "pg_connections", state="idle in transaction (aborted)") == 1


async def test_max_connections_is_the_servers(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    report = await poll(sources(monitor_dsn))
    setting = int(await admin.fetchval("SHOW max_connections"))
    assert value(report, "pg_max_connections") == setting


async def test_the_probe_latency_is_positive_and_small(
    sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    for _ in range(3):
        latency = value(await poll(source), "pg_probe_latency_seconds")
        assert 0.0 < latency < 0.5


# --- the console's transaction ----------------------------------------------------------


async def test_the_transaction_is_read_only_named_and_bounded(
    postgres_server: PostgresServer, admin: asyncpg.Connection, sessions: OpenSession
) -> None:
    monitor = postgres_server.monitor
    await admin.execute(
        "DROP TABLE IF EXISTS lessay_write_probe; CREATE TABLE lessay_write_probe (n int); "
        f"GRANT INSERT ON lessay_write_probe TO {monitor.name}"
    )
    dsn = postgres_server.dsn_for(monitor.name, monitor.password)
    # the same role may write when it is not the console: what stops the console is read-only
    plain_session = await sessions(dsn)
    await plain_session.execute("INSERT INTO lessay_write_probe VALUES (1)")
    config = config_for(dsn, statement_timeout=30.0, interval=1.5)
    settings = TransactionSettings.for_config(config)
    console = await open_connection(config)
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with read_only_transaction(console, settings):
                await console.execute("INSERT INTO lessay_write_probe VALUES (2)")
        # a server error is rolled back: the connection is kept, out of any transaction
        assert not console.is_closed()
        assert not console.is_in_transaction()
        async with read_only_transaction(console, settings):
            inside = await settings_of(console)
            name = await admin.fetchval(
                "SELECT application_name FROM pg_stat_activity WHERE pid = $1",
                console.get_server_pid(),
            )
        assert inside["transaction_read_only"] == "on"
        assert inside["statement_timeout"] == "1500ms"  # capped at the interval
        assert inside["lock_timeout"] == "750ms"
        assert inside["idle_in_transaction_session_timeout"] == "1500ms"
        assert inside["application_name"] == name == "lessay-console"
        # all of it ended with the transaction: nothing was set on the session
        outside = await settings_of(console)
        assert defaulted(outside) == await defaults(admin)
        assert outside["application_name"] != "lessay-console"
    finally:
        await console.close()
    assert await admin.fetchval("SELECT count(*) FROM lessay_write_probe") == 1
    await admin.execute("DROP TABLE lessay_write_probe")


async def test_a_poll_leaves_nothing_on_the_consoles_session(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    for _ in range(2):
        await poll(source)
    # the console's own connection, between two polls
    connection = source._connection
    assert connection is not None
    assert not connection.is_in_transaction()
    assert await connection.fetchval("SHOW default_transaction_read_only") == "off"
    outside = await settings_of(connection)
    assert defaulted(outside) == await defaults(admin)
    assert outside["application_name"] != "lessay-console"
    [pid] = await console_pids(admin, monitor_dsn)
    row = await admin.fetchrow(
        "SELECT application_name, state FROM pg_stat_activity WHERE pid = $1", pid
    )
    assert row["application_name"] != "lessay-console"  # named only while it polls
    assert row["state"] == "idle"


async def test_a_running_poll_is_named_lessay_console(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    await poll(source)  # connected before the catalogs are locked
    [pid] = await console_pids(admin, monitor_dsn)
    holding = await holding_the_activity_view(admin)
    try:
        polling = asyncio.create_task(poll(source))
        row = await lock_waiter(admin, pid)
        await asyncio.sleep(LOCK_HELD)  # not a wait for a condition: the poll is held this long
    finally:
        await holding.rollback()
    assert row["application_name"] == "lessay-console"
    assert row["state"] == "active"
    assert "pg_stat_activity" in row["query"]
    report = await polling
    assert value(report, "pg_max_connections") > 0
    # the poll lasted as long as it was held; the probe latency is its own round trip only
    assert report.duration >= LOCK_HELD
    assert value(report, "pg_probe_latency_seconds") < LOCK_HELD / 2
    assert await console_pids(admin, monitor_dsn) == [pid]


async def test_a_poll_past_lock_timeout_fails_and_keeps_its_connection(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn, statement_timeout=0.4)  # lock_timeout 200 ms
    await poll(source)
    [pid] = await console_pids(admin, monitor_dsn)
    holding = await holding_the_activity_view(admin)
    try:
        report = await poll_once(source)
    finally:
        await holding.rollback()
    assert report.error is not None
    assert report.error.kind == "timeout"
    assert "lock_timeout" in report.error.message
    assert 0.2 <= report.duration < 1.0
    # the aborted transaction was rolled back: the same connection polls on
    await poll(source)
    assert await console_pids(admin, monitor_dsn) == [pid]


async def test_a_transaction_cut_midway_drops_its_connection(
    admin: asyncpg.Connection, monitor_dsn: str
) -> None:
    config = config_for(monitor_dsn)
    settings = TransactionSettings.for_config(config)
    # a client-side timeout: whether the server still runs the statement is unknown
    console = await open_connection(config)
    with pytest.raises(TimeoutError):
        async with read_only_transaction(console, settings):
            await console.execute("SELECT pg_sleep(0.5)", timeout=0.1)
    assert console.is_closed()
    # a cancelled poll (poll_once's cut): no ROLLBACK is awaited, the connection goes
    console = await open_connection(config)
    pid = console.get_server_pid()

    async def sleep_in_transaction() -> None:
        async with read_only_transaction(console, settings):
            await console.execute("SELECT pg_sleep(0.5)")

    sleeping = asyncio.create_task(sleep_in_transaction())

    async def asleep() -> bool:
        state = await admin.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
        return state == "active"

    await await_until(asleep, within=5, interval=0.01)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert console.is_closed()

    async def gone() -> bool:
        return not await console_pids(admin, monitor_dsn)

    await await_until(gone, within=5, interval=0.05)


async def test_one_connection_is_kept_across_polls_and_closed(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    await poll(source)
    first = await console_pids(admin, monitor_dsn)
    assert len(first) == 1
    for _ in range(3):
        await poll(source)
    assert await console_pids(admin, monitor_dsn) == first
    await source.close()

    async def gone() -> bool:
        return not await console_pids(admin, monitor_dsn)

    await await_until(gone, within=5, interval=0.05)


async def test_a_killed_connection_is_made_again(
    admin: asyncpg.Connection, sources: MakeSource, monitor_dsn: str
) -> None:
    source = sources(monitor_dsn)
    await poll(source)
    [killed] = await console_pids(admin, monitor_dsn)
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
    after_kill = await poll_once(source)
    assert after_kill.error is None or after_kill.error.kind == "connect", after_kill.error
    await poll(source)

    async def replaced() -> bool:
        pids = await console_pids(admin, monitor_dsn)
        return len(pids) == 1 and killed not in pids

    await await_until(replaced, within=5, interval=0.05)


# --- privileges ---------------------------------------------------------------------------


async def test_pg_read_all_stats_sees_other_roles_sessions(
    admin: asyncpg.Connection, sessions: OpenSession, sources: MakeSource, monitor_dsn: str
) -> None:
    idle = await sessions()  # the superuser's: another role's session
    await idle.execute("BEGIN; SELECT 1")
    report = await poll_until(
        sources(monitor_dsn), lambda r: value(r, "pg_idle_in_transaction") == 1
    )
    assert value(report, "pg_connections", state="unknown") == 0
    assert report.notes == ()


async def test_a_role_without_pg_read_all_stats_gets_samples_and_a_note(
    postgres_server: PostgresServer,
    admin: asyncpg.Connection,
    sessions: OpenSession,
    sources: MakeSource,
) -> None:
    idle = await sessions()  # with the admin, two superuser sessions the plain role cannot see
    await idle.execute("BEGIN; SELECT 1")
    plain = postgres_server.plain
    report = await poll(sources(postgres_server.dsn_for(plain.name, plain.password)))
    assert value(report, "pg_connections", state="unknown") == 2
    assert value(report, "pg_idle_in_transaction") == 0  # hidden, hence the note
    assert value(report, "pg_max_connections") > 0
    [note] = report.notes
    assert f"role '{plain.name}' lacks pg_read_all_stats" in note
    assert "states of 2 other sessions are hidden" in note
    assert f"GRANT pg_read_all_stats TO {plain.name}" in note


# --- PgBouncer and start-up ---------------------------------------------------------------


async def pool_settings(clients: list[asyncpg.Connection]) -> list[dict[str, str | int]]:
    """The settings of the server connections `clients` get, all held at once.

    Each client holds a transaction while the others begin theirs, so with as
    many clients as the pool has server connections every one of them is read.
    """
    for client in clients:
        await client.execute("BEGIN")
    try:
        return [await settings_of(client) for client in clients]
    finally:
        for client in clients:
            await client.execute("COMMIT")


async def test_polls_through_pgbouncer_leave_nothing_on_the_pools_server_connections(
    pgbouncer_server: PgBouncerServer, admin: asyncpg.Connection, sources: MakeSource
) -> None:
    monitor = pgbouncer_server.server.monitor
    dsn = pgbouncer_server.dsn_for(monitor.name, monitor.password)
    expected = await defaults(admin)
    # the application: two clients of the console's role through the same PgBouncer,
    # as many as the pool's server connections
    app = [await asyncpg.connect(dsn, statement_cache_size=0, timeout=10) for _ in range(2)]
    try:
        pool = {settings["pid"] for settings in await pool_settings(app)}
        assert len(pool) == 2
        many = [sources(dsn) for _ in range(4)]  # more consoles than server connections
        for _ in range(5):
            await asyncio.gather(*(poll(source) for source in many))
            seen = await pool_settings(app)
            # the very server connections the consoles polled on (the pool has no others)
            assert {settings["pid"] for settings in seen} == pool
            for settings in seen:
                assert settings["default_transaction_read_only"] == "off", settings
                assert defaulted(settings) == expected, settings
                assert settings["application_name"] != "lessay-console", settings
    finally:
        for client in app:
            client.terminate()


async def test_polls_succeed_through_pgbouncer_in_transaction_mode(
    pgbouncer_server: PgBouncerServer, sources: MakeSource
) -> None:
    monitor = pgbouncer_server.server.monitor
    dsn = pgbouncer_server.dsn_for(monitor.name, monitor.password)
    # more clients than the pool's two server connections: they share them between
    # transactions, which is what breaks a client relying on prepared statements
    many = [sources(dsn) for _ in range(4)]
    for _ in range(5):
        reports = await asyncio.gather(*(poll(source) for source in many))
        for report in reports:
            assert value(report, "pg_max_connections") > 0
            assert value(report, "pg_probe_latency_seconds") > 0


async def test_the_settings_follow_the_console_to_another_server_connection(
    pgbouncer_server: PgBouncerServer,
) -> None:
    monitor = pgbouncer_server.server.monitor
    dsn = pgbouncer_server.dsn_for(monitor.name, monitor.password)
    config = config_for(dsn, statement_timeout=30.0, interval=1.5)
    settings = TransactionSettings.for_config(config)
    console = await open_connection(config)
    holder = await asyncpg.connect(dsn, statement_cache_size=0, timeout=10)
    try:
        async with read_only_transaction(console, settings):
            first = await settings_of(console)
        # another client takes the server connection the console just released
        # (PgBouncer hands out the last released first) and keeps it
        await holder.execute("BEGIN; SELECT 1")
        async with read_only_transaction(console, settings):
            second = await settings_of(console)
    finally:
        holder.terminate()
        await console.close()
    assert first["pid"] != second["pid"]
    for inside in (first, second):
        assert inside["transaction_read_only"] == "on"
        assert inside["statement_timeout"] == "1500ms"
        assert inside["lock_timeout"] == "750ms"
        assert inside["idle_in_transaction_session_timeout"] == "1500ms"
        assert inside["application_name"] == "lessay-console"


async def test_a_source_moved_to_another_server_connection_still_polls(
    pgbouncer_server: PgBouncerServer, sources: MakeSource
) -> None:
    monitor = pgbouncer_server.server.monitor
    dsn = pgbouncer_server.dsn_for(monitor.name, monitor.password)
    source = sources(dsn)
    await poll(source)
    # another client of the same pool takes the server connection the source just
    # released (PgBouncer hands out the last released first) and keeps it in a
    # transaction: the source's next statements run on another server connection,
    # where nothing it prepared exists
    holder = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        await holder.execute("BEGIN; SELECT 1")
        for _ in range(3):
            await poll(source)
    finally:
        holder.terminate()


def test_asyncpg_is_imported_only_when_connecting() -> None:
    script = (
        "import sys\n"
        "from lessay_console.sources.postgres import PostgresSource\n"
        "print('asyncpg' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
