"""The PostgreSQL checks through the runner, against a real server.

Each situation is made for real by test sessions (a query sleeping in
pg_sleep, a table locked by one session and read by another, a transaction
left open) and awaited in pg_stat_activity before the check runs. Thresholds
are set low so that no test waits for the guide's defaults.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from lessay_console.checks.catalog import KINDS
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.checks.spec import read_check
from lessay_console.config import Config
from lessay_console.config.model import PostgresConfig
from lessay_console.config.reader import Problems, TableReader
from lessay_console.config.secrets import Secret
from tests.helpers import await_until
from tests.postgres_server import PgBouncerServer, PostgresServer, free_port
from tests.postgres_sessions import TEST_APP, OpenSession

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # writes the clipboard on a terminal that obeys it
OSC52_SHOWN = "\\x1b]52;c;ZXZpbA==\\x07"

WAITING_QUERY = "SELECT * FROM lessay_ck"  # blocked by a LOCK TABLE


async def check(
    kind: str, dsn: str | None, postgres: dict[str, float] | None = None, **params: Any
) -> CheckResult:
    """Run one check as the wizard would: a spec, a context, the runner."""
    config = Config()
    if dsn is not None:
        settings = postgres or {}
        config = Config(postgres=PostgresConfig(dsn=Secret("env:LESSAY_PG_DSN", dsn), **settings))
    spec = CheckSpec(kind, kind, kind, params, KINDS[kind].timeout)
    return await run_check(spec, CheckContext(config=config))


def texts(value: Any) -> Iterator[str]:
    """Every string a result holds, however deep in its data."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts(key)
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


def every_text(result: CheckResult) -> list[str]:
    return [result.summary, *result.detail, *texts(result.data)]


@pytest.fixture
async def admin(postgres_server: PostgresServer, sessions: OpenSession) -> asyncpg.Connection:
    """A superuser session, once no client session of an earlier test is left.

    The private cluster serves these tests alone, so the counts the checks
    report are exact: the admin plus what each test opens.
    """
    connection = await sessions()

    async def alone() -> bool:
        return bool(
            await connection.fetchval(
                "SELECT count(*) = 0 FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )

    await await_until(alone, within=15, interval=0.05)
    return connection


async def active_for(
    admin: asyncpg.Connection, pid: int, seconds: float, waiting: str = ""
) -> None:
    """Until backend `pid` has run its query (waiting on `waiting`, if given) for `seconds`."""

    async def long_enough() -> bool:
        row = await admin.fetchrow(
            "SELECT state, wait_event_type, "
            "extract(epoch FROM clock_timestamp() - query_start) AS age "
            "FROM pg_stat_activity WHERE pid = $1",
            pid,
        )
        if row is None or row["state"] != "active" or row["age"] < seconds:
            return False
        return not waiting or row["wait_event_type"] == waiting

    await await_until(long_enough, within=10, interval=0.05)


async def idle_in_transaction_for(admin: asyncpg.Connection, pid: int, seconds: float) -> None:
    async def long_enough() -> bool:
        return bool(
            await admin.fetchval(
                "SELECT state = 'idle in transaction' "
                "AND clock_timestamp() - state_change >= make_interval(secs => $2) "
                "FROM pg_stat_activity WHERE pid = $1",
                pid,
                seconds,
            )
        )

    await await_until(long_enough, within=10, interval=0.05)


async def cancel(admin: asyncpg.Connection, pid: int, running: asyncio.Task[Any]) -> None:
    """Cancel the test query of backend `pid` and wait for its task to end."""
    await admin.execute("SELECT pg_cancel_backend($1)", pid)
    await asyncio.gather(running, return_exceptions=True)


async def consoles_gone(admin: asyncpg.Connection, role: str) -> None:
    """Until no session of `role` is left: a check closes the connection it made."""

    async def gone() -> bool:
        return bool(
            await admin.fetchval(
                "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = $1", role
            )
        )

    await await_until(gone, within=5, interval=0.05)


async def usable_connections(admin: asyncpg.Connection) -> tuple[int, int]:
    most = int(await admin.fetchval("SHOW max_connections"))
    reserved = int(await admin.fetchval("SHOW superuser_reserved_connections"))
    return most - reserved, reserved


# --- not configured, unreachable, secrets -----------------------------------------------------


@pytest.mark.parametrize("kind", ["postgres_activity", "sql_assert"])
async def test_without_a_dsn_the_checks_are_skipped(kind: str) -> None:
    result = await check(kind, None, sql="SELECT 1", equals="1")
    assert result.status == CheckStatus.SKIPPED
    assert result.summary == "no [postgres] dsn in the configuration"


@pytest.mark.parametrize("kind", ["postgres_activity", "sql_assert"])
async def test_a_closed_port_fails_quickly_without_the_password(
    postgres_server: PostgresServer, kind: str
) -> None:
    monitor = postgres_server.monitor
    dsn = postgres_server.dsn_for(monitor.name, monitor.password, port=free_port())
    started = time.monotonic()
    result = await check(kind, dsn, sql="SELECT 1", equals="1")
    assert time.monotonic() - started < 2.0
    assert result.status == CheckStatus.FAIL
    assert result.summary.startswith("database unreachable: connection refused by 127.0.0.1:")
    assert all(monitor.password not in text for text in every_text(result))


async def test_the_password_never_appears_in_a_result(
    postgres_server: PostgresServer, admin: asyncpg.Connection, sessions: OpenSession
) -> None:
    monitor = postgres_server.monitor
    dsn = postgres_server.dsn_for(monitor.name, monitor.password)
    # another session's query quotes the password: the activity check shows that query
    quoting = await sessions()
    pid = quoting.get_server_pid()
    running = asyncio.create_task(
        quoting.execute(f"SELECT '{monitor.password}' AS secret, pg_sleep(30)")
    )
    try:
        await active_for(admin, pid, 0.2)
        activity = await check("postgres_activity", dsn, long_query=0.1)
    finally:
        await cancel(admin, pid, running)
    # the value an assertion shows is the password itself, and so is a server message
    value = await check("sql_assert", dsn, sql=f"SELECT '{monitor.password}'", equals="x")
    message = await check("sql_assert", dsn, sql=f"SELECT '{monitor.password}'::int", at_least=1)
    wrong = "wrong-" + monitor.password
    refused = await check("postgres_activity", postgres_server.dsn_for(monitor.name, wrong))

    assert activity.status == CheckStatus.FAIL
    assert "'***' AS secret" in activity.data["long_queries"][0]["query"]
    assert value.status == CheckStatus.FAIL
    assert value.summary == "value = *** (expected equal to 'x')"
    assert message.status == CheckStatus.ERROR
    assert 'invalid input syntax for type integer: "***"' in message.summary
    assert refused.status == CheckStatus.FAIL
    assert refused.summary.startswith("database refused the connection: password authentication")
    for result in (activity, value, message, refused):
        for text in every_text(result):
            assert monitor.password not in text, (result.kind, text)


def spec_from(table: dict[str, Any]) -> tuple[CheckSpec | None, list[str]]:
    """A check as a runbook file writes it, and the problems found reading it."""
    problems = Problems("runbook.toml")
    spec = read_check(TableReader(table, ("step", "check"), problems), "check")
    return spec, [f"{problem.key}: {problem.message}" for problem in problems.items]


async def test_checks_read_from_a_runbook_file_take_durations_and_numbers(
    monitor_dsn: str,
) -> None:
    activity, problems = spec_from(
        {"kind": "postgres_activity", "long_query": "30s", "connections_warn": 70}
    )
    assert problems == []
    assert activity is not None
    assert activity.params["long_query"] == 30.0
    assert activity.params["lock_wait"] == 5.0  # the default
    assert activity.params["connections_warn"] == 70
    latest, problems = spec_from(
        {"kind": "sql_assert", "sql": "SELECT now() AS latest", "max_age": "1h"}
    )
    assert problems == []
    assert latest is not None
    config = Config(postgres=PostgresConfig(dsn=Secret("env:LESSAY_PG_DSN", monitor_dsn)))
    result = await run_check(latest, CheckContext(config=config))
    assert result.status == CheckStatus.PASS
    assert result.summary.endswith(", 0s old (no older than 1h)")
    _, problems = spec_from({"kind": "sql_assert", "at_least": 1})
    assert problems == ["step.check.sql: is required"]


# --- postgres_activity ----------------------------------------------------------------------


async def test_a_quiet_server_passes_with_connections_against_max(
    admin: asyncpg.Connection, monitor_dsn: str, postgres_server: PostgresServer
) -> None:
    usable, reserved = await usable_connections(admin)
    result = await check("postgres_activity", monitor_dsn)
    assert result.status == CheckStatus.PASS
    # the admin's session is the one client; the check's own is not counted
    assert result.summary == f"1/{usable} connections, no long queries, no lock waits"
    assert result.data["connections"]["clients"] == 1
    assert result.data["connections"]["usable"] == usable
    assert f"minus superuser_reserved_connections {reserved}" in result.detail[0]
    assert result.data["long_queries"] == result.data["lock_waits"] == []
    await consoles_gone(admin, postgres_server.monitor.name)


async def test_a_long_running_query_fails_and_is_named(
    postgres_server: PostgresServer,
    admin: asyncpg.Connection,
    sessions: OpenSession,
    monitor_dsn: str,
) -> None:
    sleeper = await sessions()
    pid = sleeper.get_server_pid()
    sleeping = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30)"))
    try:
        await active_for(admin, pid, 0.3)
        result = await check("postgres_activity", monitor_dsn, long_query=0.2)
        patient = await check("postgres_activity", monitor_dsn, long_query=60.0)
    finally:
        await cancel(admin, pid, sleeping)
    assert result.status == CheckStatus.FAIL
    assert re.fullmatch(rf"query running \d+s \(pid {pid}\): SELECT pg_sleep\(30\)", result.summary)
    [found] = result.data["long_queries"]
    assert found["pid"] == pid
    assert found["user"] == postgres_server.superuser.name
    assert found["application_name"] == TEST_APP
    assert found["query"] == "SELECT pg_sleep(30)"
    assert found["wait_event"] == "PgSleep"
    assert found["query_age_seconds"] >= 0.3
    [line] = [line for line in result.detail if line.startswith("long query:")]
    assert f"pid {pid}, user {postgres_server.superuser.name}, application {TEST_APP}" in line
    assert line.endswith(": SELECT pg_sleep(30)")
    assert patient.status == CheckStatus.PASS
    assert "no long queries" in patient.summary


async def test_a_lock_wait_names_the_blocked_and_the_blocker(
    admin: asyncpg.Connection, sessions: OpenSession, monitor_dsn: str
) -> None:
    await admin.execute("DROP TABLE IF EXISTS lessay_ck; CREATE TABLE lessay_ck (n int)")
    holder, waiter = await sessions(), await sessions()
    holder_pid, waiter_pid = holder.get_server_pid(), waiter.get_server_pid()
    await holder.execute("BEGIN; LOCK TABLE lessay_ck IN ACCESS EXCLUSIVE MODE")
    waiting = asyncio.create_task(waiter.execute(WAITING_QUERY))
    try:
        await active_for(admin, waiter_pid, 0.3, waiting="Lock")
        long_wait = await check("postgres_activity", monitor_dsn, lock_wait=0.2)
        # a shorter wait than lock_wait warns; a query waiting on a lock is not also
        # a long query, however low long_query is
        short_wait = await check("postgres_activity", monitor_dsn, lock_wait=60.0, long_query=0.1)
    finally:
        await holder.execute("ROLLBACK")
        await waiting
    await admin.execute("DROP TABLE lessay_ck")

    assert long_wait.status == CheckStatus.FAIL
    assert long_wait.summary.startswith("lock wait ")
    assert long_wait.summary.endswith(
        f"(pid {waiter_pid}, blocked by pid {holder_pid}): {WAITING_QUERY}"
    )
    [wait] = long_wait.data["lock_waits"]
    assert wait["pid"] == waiter_pid
    assert wait["query"] == WAITING_QUERY
    assert wait["wait_seconds"] >= 0.3
    assert wait["blocking_pids"] == [holder_pid]
    [blocker] = wait["blockers"]
    assert blocker["pid"] == holder_pid
    assert blocker["state"] == "idle in transaction"
    assert "LOCK TABLE lessay_ck IN ACCESS EXCLUSIVE MODE" in blocker["query"]
    [line] = [line for line in long_wait.detail if line.startswith("lock wait:")]
    assert f"pid {waiter_pid}," in line
    assert f"blocked by pid {holder_pid} (" in line
    assert "idle in transaction): BEGIN; LOCK TABLE" in line

    assert short_wait.status == CheckStatus.WARN
    assert short_wait.summary.startswith("lock wait ")
    assert short_wait.data["long_queries"] == []


async def test_a_session_idle_in_transaction_warns(
    admin: asyncpg.Connection, sessions: OpenSession, monitor_dsn: str
) -> None:
    idle = await sessions()
    pid = idle.get_server_pid()
    await idle.execute("BEGIN; SELECT 42")
    await idle_in_transaction_for(admin, pid, 0.3)
    result = await check("postgres_activity", monitor_dsn, idle_in_transaction=0.2)
    patient = await check("postgres_activity", monitor_dsn)  # the default: 60 s
    assert result.status == CheckStatus.WARN
    assert re.fullmatch(
        rf"idle in transaction \d+s \(pid {pid}\): BEGIN; SELECT 42", result.summary
    )
    [found] = result.data["idle_in_transaction"]
    assert found["pid"] == pid
    assert found["state"] == "idle in transaction"
    assert found["query"] == "BEGIN; SELECT 42"
    assert found["state_age_seconds"] >= 0.3
    assert any(line.startswith("idle in transaction: pid") for line in result.detail)
    assert patient.status == CheckStatus.PASS


async def test_connections_are_judged_against_the_usable_share_of_max_connections(
    admin: asyncpg.Connection, sessions: OpenSession, monitor_dsn: str
) -> None:
    for _ in range(2):
        await sessions()
    usable, _ = await usable_connections(admin)
    percent = round(100 * 3 / usable, 1)  # the admin and two sessions
    warned = await check(
        "postgres_activity", monitor_dsn, connections_warn=percent, connections_fail=100
    )
    failed = await check(
        "postgres_activity", monitor_dsn, connections_warn=1, connections_fail=percent
    )
    below = await check(
        "postgres_activity", monitor_dsn, connections_warn=percent + 0.1, connections_fail=100
    )
    assert warned.status == CheckStatus.WARN
    assert warned.summary == f"3/{usable} connections ({percent:g}%)"
    assert warned.data["connections"]["clients"] == 3
    assert warned.data["connections"]["percent"] == percent
    assert failed.status == CheckStatus.FAIL
    assert failed.summary == f"3/{usable} connections ({percent:g}%)"
    assert below.status == CheckStatus.PASS
    assert below.summary == f"3/{usable} connections, no long queries, no lock waits"


async def test_terminal_escapes_and_markup_in_a_query_come_out_inert(
    admin: asyncpg.Connection, sessions: OpenSession, monitor_dsn: str
) -> None:
    hostile = await sessions()
    pid = hostile.get_server_pid()
    running = asyncio.create_task(hostile.execute(f"SELECT '{OSC52}[bold]x[/bold]', pg_sleep(30)"))
    try:
        await active_for(admin, pid, 0.2)
        result = await check("postgres_activity", monitor_dsn, long_query=0.1)
    finally:
        await cancel(admin, pid, running)
    assert result.status == CheckStatus.FAIL
    for text in every_text(result):
        assert "\x1b" not in text
        assert "\x07" not in text
    shown = f"SELECT '{OSC52_SHOWN}[bold]x[/bold]', pg_sleep(30)"
    assert result.summary.endswith(f"(pid {pid}): {shown}")
    assert result.data["long_queries"][0]["query"] == shown


async def test_a_role_without_pg_read_all_stats_is_told_and_still_counts(
    postgres_server: PostgresServer, admin: asyncpg.Connection, sessions: OpenSession
) -> None:
    idle = await sessions()  # the superuser's, hidden from the plain role like the admin's
    await idle.execute("BEGIN; SELECT 1")
    await idle_in_transaction_for(admin, idle.get_server_pid(), 0.2)
    plain = postgres_server.plain
    result = await check(
        "postgres_activity",
        postgres_server.dsn_for(plain.name, plain.password),
        idle_in_transaction=0.1,
    )
    assert result.status == CheckStatus.PASS  # the idle transaction cannot be seen
    assert result.data["connections"]["clients"] == 2
    assert result.data["hidden_sessions"] == 2
    [line] = [line for line in result.detail if "pg_read_all_stats" in line]
    assert f"role '{plain.name}' lacks pg_read_all_stats" in line
    assert "'<insufficient privilege>'" in line
    assert f"GRANT pg_read_all_stats TO {plain.name}" in line


# --- sql_assert ------------------------------------------------------------------------------

COUNT_SQL = "SELECT count(*) FROM generate_series(1, 1204)"


@pytest.mark.parametrize(
    ("params", "status", "summary"),
    [
        ({"at_least": 1000}, CheckStatus.PASS, "count = 1,204 (at least 1,000)"),
        ({"at_least": 2000}, CheckStatus.FAIL, "count = 1,204 (expected at least 2,000)"),
        ({"at_most": 1204}, CheckStatus.PASS, "count = 1,204 (at most 1,204)"),
        ({"at_most": 1203.5}, CheckStatus.FAIL, "count = 1,204 (expected at most 1,203.5)"),
        (
            {"at_least": 1, "at_most": 10},
            CheckStatus.FAIL,
            "count = 1,204 (expected at least 1, at most 10)",
        ),
        ({"equals": "1204"}, CheckStatus.PASS, "count = 1204 (equal to '1204')"),
        ({"equals": "1,204"}, CheckStatus.FAIL, "count = 1204 (expected equal to '1,204')"),
    ],
)
async def test_a_count_is_judged(
    monitor_dsn: str, params: dict[str, Any], status: CheckStatus, summary: str
) -> None:
    result = await check("sql_assert", monitor_dsn, sql=COUNT_SQL, **params)
    assert (result.status, result.summary) == (status, summary)
    assert result.data["value"] == "1204"


@pytest.mark.parametrize(
    ("max_age", "status", "summary"),
    [
        (3600.0, CheckStatus.PASS, "10m00s old (no older than 1h)"),
        (60.0, CheckStatus.FAIL, "10m00s old (expected no older than 1m)"),
    ],
)
async def test_a_latest_timestamp_is_judged_against_the_servers_now(
    monitor_dsn: str, max_age: float, status: CheckStatus, summary: str
) -> None:
    # now() is the transaction's start: the age is exact, whatever the client's clock says
    sql = "SELECT now() - interval '10 minutes' AS latest_order"
    result = await check("sql_assert", monitor_dsn, sql=sql, max_age=max_age)
    assert result.status == status
    assert result.summary.startswith("latest_order = ")
    assert result.summary.endswith(summary)
    assert result.data["age_seconds"] == 600.0


async def test_the_assertion_runs_in_the_consoles_read_only_transaction(
    admin: asyncpg.Connection, monitor_dsn: str, postgres_server: PostgresServer
) -> None:
    settings = {
        "transaction_read_only": "on",
        "application_name": "lessay-console",
        "statement_timeout": "2s",  # the config's default
    }
    for name, value in settings.items():
        sql = f"SELECT current_setting('{name}') AS {name}"
        result = await check("sql_assert", monitor_dsn, sql=sql, equals=value)
        assert result.status == CheckStatus.PASS, result.summary
    await consoles_gone(admin, postgres_server.monitor.name)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO lessay_ck VALUES (1) RETURNING n",
        "WITH added AS (INSERT INTO lessay_ck VALUES (1) RETURNING n) SELECT count(*) FROM added",
        "UPDATE lessay_ck SET n = 2",
        "SELECT nextval('lessay_ck_seq')",
    ],
)
async def test_a_write_is_refused_by_the_read_only_transaction(
    postgres_server: PostgresServer, admin: asyncpg.Connection, monitor_dsn: str, sql: str
) -> None:
    await writable_table(admin, postgres_server.monitor.name)
    result = await check("sql_assert", monitor_dsn, sql=sql, at_least=0)
    assert result.status == CheckStatus.ERROR
    assert result.summary.startswith("refused: the console's transactions are read-only")
    assert await admin.fetchval("SELECT count(*) FROM lessay_ck") == 0
    assert await admin.fetchval("SELECT last_value FROM lessay_ck_seq") == 1


# Each, put inside COPY (...) and sent over the simple protocol, would commit a row: the
# server parses all of it, then runs the COMMITs between the two COPYs. Each hides the
# ')' that ends the first COPY from a lexer that gets one rule of the server's wrong.
WRITE = "COMMIT; INSERT INTO lessay_ck VALUES (1); COMMIT; COPY (SELECT 1"


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT 1) TO STDOUT; {WRITE}",
        # the server ends a -- comment at a carriage return too
        f"SELECT 1 -- note\r) TO STDOUT; {WRITE}",
        # a string continuing an E'...' one across a newline is read with escapes
        f"SELECT E'a'\n'\\'' ) TO STDOUT; {WRITE} -- '",
        # a dollar-quoted string may hold a quote
        f"SELECT $$'$$) TO STDOUT; {WRITE} -- '",
        # and so may a quoted name
        f"SELECT 1 AS \"it's\") TO STDOUT; {WRITE} -- '",
        # 1e'...' lexes as 1 and E'...' on some versions, as an error on others
        f"SELECT 1e'\\'' ) TO STDOUT; {WRITE} -- '",
    ],
)
async def test_sql_that_could_leave_the_transaction_is_refused(
    postgres_server: PostgresServer, admin: asyncpg.Connection, monitor_dsn: str, sql: str
) -> None:
    await writable_table(admin, postgres_server.monitor.name)
    result = await check("sql_assert", monitor_dsn, sql=sql, at_least=0)
    assert await admin.fetchval("SELECT count(*) FROM lessay_ck") == 0
    assert result.status == CheckStatus.ERROR
    assert result.summary.startswith("refused: ")


async def test_semicolons_and_parentheses_in_strings_and_comments_are_fine(
    monitor_dsn: str,
) -> None:
    sql = (
        "SELECT count(*) AS n /* a comment ) ; /* nested */ still ) */ "
        "FROM (VALUES (';'), (')'), (E'\\')'), ('it''s'), (\"left\"(')', 1))) AS v(x) "
        "-- ) ; COMMIT\n;"
    )
    result = await check("sql_assert", monitor_dsn, sql=sql, equals="5")
    assert result.status == CheckStatus.PASS, result.summary


async def writable_table(admin: asyncpg.Connection, role: str) -> None:
    """An empty table and a sequence the role could write, were it not read-only."""
    await admin.execute(
        "DROP TABLE IF EXISTS lessay_ck; DROP SEQUENCE IF EXISTS lessay_ck_seq; "
        "CREATE TABLE lessay_ck (n int); CREATE SEQUENCE lessay_ck_seq; "
        f"GRANT SELECT, INSERT, UPDATE ON lessay_ck TO {role}; "
        f"GRANT USAGE ON SEQUENCE lessay_ck_seq TO {role}"
    )


async def test_a_statement_timeout_cuts_the_query(monitor_dsn: str) -> None:
    started = time.monotonic()
    result = await check(
        "sql_assert",
        monitor_dsn,
        postgres={"statement_timeout": 0.3},
        sql="SELECT pg_sleep(5)",
        equals="",
    )
    assert result.status == CheckStatus.FAIL
    assert result.summary == "cut by statement_timeout (300ms): the query ran longer"
    assert time.monotonic() - started < 2.0


async def test_a_lock_held_elsewhere_cuts_the_query_at_lock_timeout(
    admin: asyncpg.Connection,
    sessions: OpenSession,
    monitor_dsn: str,
    postgres_server: PostgresServer,
) -> None:
    await writable_table(admin, postgres_server.monitor.name)
    holder = await sessions()
    await holder.execute("BEGIN; LOCK TABLE lessay_ck IN ACCESS EXCLUSIVE MODE")
    try:
        result = await check(
            "sql_assert",
            monitor_dsn,
            postgres={"statement_timeout": 1.0},
            sql="SELECT count(*) FROM lessay_ck",
            at_least=0,
        )
    finally:
        await holder.execute("ROLLBACK")
    assert result.status == CheckStatus.FAIL
    assert result.summary.startswith("cut by lock_timeout (500ms): the query waited on a lock")


@pytest.mark.parametrize(
    ("sql", "summary"),
    [
        ("SELECT 1 WHERE false", "the query returned no rows (expected exactly one)"),
        ("SELECT generate_series(1, 3)", "the query returned 3 rows (expected exactly one)"),
        ("SELECT NULL::bigint AS total", "total = NULL (expected at least 1)"),
    ],
)
async def test_anything_but_one_value_fails(monitor_dsn: str, sql: str, summary: str) -> None:
    result = await check("sql_assert", monitor_dsn, sql=sql, at_least=1)
    assert (result.status, result.summary) == (CheckStatus.FAIL, summary)


@pytest.mark.parametrize(
    ("params", "summary"),
    [
        (
            {"sql": "SELECT * FROM lessay_nowhere", "at_least": 1},
            'the query failed: relation "lessay_nowhere" does not exist (SQLSTATE 42P01)',
        ),
        (
            {"sql": "SELECT 'ok' AS status", "at_least": 1},
            "status = ok: not a number, so at least 1 cannot be judged",
        ),
        (
            {"sql": "SELECT 'soon' AS latest", "max_age": 60.0},
            "max_age needs a timestamp in the first column: "
            'invalid input syntax for type timestamp with time zone: "soon"',
        ),
        ({"sql": "SELECT 1"}, "nothing to judge: give at_least, at_most, equals or max_age"),
        (
            {"sql": "SELECT 1; SELECT 2;", "equals": "1"},
            "refused: one statement only: there is more after its ';'; "
            "sql must be one read-only query",
        ),
        ({"sql": "", "equals": "1"}, "sql is required: one read-only query returning one row"),
    ],
)
async def test_what_cannot_be_judged_is_an_error(
    monitor_dsn: str, params: dict[str, Any], summary: str
) -> None:
    result = await check("sql_assert", monitor_dsn, **params)
    assert (result.status, result.summary) == (CheckStatus.ERROR, summary)


async def test_assertions_work_through_pgbouncer_in_transaction_mode(
    pgbouncer_server: PgBouncerServer,
) -> None:
    monitor = pgbouncer_server.server.monitor
    dsn = pgbouncer_server.dsn_for(monitor.name, monitor.password)
    # more checks at once than the pool's two server connections: they share them
    results = await asyncio.gather(
        *(check("sql_assert", dsn, sql=COUNT_SQL, at_least=1000) for _ in range(6)),
        check("postgres_activity", dsn),
    )
    for result in results:
        assert result.status == CheckStatus.PASS, result.summary
