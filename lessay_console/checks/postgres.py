"""PostgreSQL checks: the guide's `pg_stat_activity` diagnostic, and read-only SQL assertions.

`postgres_activity` reports long-running queries, lock waits with their
blockers, sessions idle in a transaction and client connections against
`max_connections`. `sql_assert` judges the first column of a query's one row
(row counts, latest timestamps: the recovery runbook's consistency checks).
How they reach the database (one read-only transaction on a connection of
their own, statements as `COPY ... TO STDOUT`) is in `postgres_sql`.

Every text a check returns is scrubbed of the DSN's password (a query text or
a server message may quote it); the runner then redacts and sanitizes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.checks.postgres_sql import (
    ACTIVITY_SQL,
    CONFORMING_STRINGS_SQL,
    Database,
    UnsafeQuery,
    age_sql,
    copy_rows,
    in_transaction,
    one_statement,
    time_left,
)
from lessay_console.config.durations import format_age, format_duration
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres import TransactionSettings
from lessay_console.sources.postgres_dsn import DsnError, Target, parse_dsn
from lessay_console.sources.postgres_errors import is_connection_lost, query_failure, scrub

if TYPE_CHECKING:
    from asyncpg import Connection

NOT_CONFIGURED = "no [postgres] dsn in the configuration"
SUMMARY_QUERY = 60  # characters of a query text in a one-line summary


# --- what both checks share ---------------------------------------------------------------


def _database(ctx: CheckContext) -> Database | Outcome:
    """Where the checks connect, or the outcome that says why they cannot."""
    config = ctx.config.postgres
    if config is None:
        return Outcome.skipped(NOT_CONFIGURED)
    try:
        target = parse_dsn(config.dsn.reveal())
    except DsnError as error:
        return Outcome.errored(f"[postgres] dsn: {error}")
    return Database(config, target, TransactionSettings.for_config(config))


def _unreachable(failure: SourceFailure) -> Outcome:
    if failure.kind == "config":
        return Outcome.errored(failure.message)
    if failure.kind in ("auth", "permission"):
        return Outcome.failed(f"database refused the connection: {failure.message}")
    return Outcome.failed(f"database unreachable: {failure.message}")


def _scrubbed(outcome: Outcome, target: Target) -> Outcome:
    """The outcome without the DSN's password in any of its texts."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value, target)
        if isinstance(value, Mapping):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [clean(item) for item in value]
        return value

    return replace(
        outcome,
        summary=clean(outcome.summary),
        detail=tuple(clean(line) for line in outcome.detail),
        data=clean(outcome.data),
    )


def _params(params: Mapping[str, Any], declared: tuple[Param, ...]) -> dict[str, Any]:
    """The spec's parameters, each missing one at its declared default."""
    given = {param.name: params.get(param.name) for param in declared}
    return {
        param.name: param.default if given[param.name] is None else given[param.name]
        for param in declared
    }


# --- postgres_activity ---------------------------------------------------------------------

ACTIVITY_PARAMS = (
    Param("long_query", "duration", 5.0, help="an active query older than this fails"),
    Param(
        "idle_in_transaction",
        "duration",
        60.0,
        help="a session idle in a transaction for longer than this warns",
    ),
    Param("lock_wait", "duration", 5.0, help="a lock wait longer fails, a shorter one warns"),
    Param("connections_warn", "number", 80, help="percent of usable connections that warns"),
    Param("connections_fail", "number", 95, help="percent of usable connections that fails"),
)


@dataclass(frozen=True)
class _Finding:
    kind: str  # the data list it goes in: long_queries, lock_waits, idle_in_transaction
    status: CheckStatus  # FAIL or WARN
    summary: str
    line: str
    weight: float  # among findings of one status, the heaviest is the worst
    data: Mapping[str, Any]


async def _activity(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    db = _database(ctx)
    if isinstance(db, Outcome):
        return db
    limits = _params(params, ACTIVITY_PARAMS)

    async def read(connection: Connection, deadline: float) -> dict[str, Any]:
        copied = await copy_rows(connection, ACTIVITY_SQL, deadline)
        return json.loads(copied.records[1][0] or "{}")

    try:
        activity = await in_transaction(db, read)
    except SourceFailure as failure:
        return _unreachable(failure)
    except Exception as error:
        failure = query_failure(error, db.target, "the activity query", db.config.timeout)
        if failure.kind == "connect":
            return Outcome.failed(f"database unreachable: {failure.message}")
        if failure.kind == "timeout":  # too slow to answer is itself what the check looks for
            return Outcome.failed(failure.message)
        return Outcome.errored(failure.message)
    return _scrubbed(judge_activity(activity, limits), db.target)


def judge_activity(activity: Mapping[str, Any], limits: Mapping[str, Any]) -> Outcome:
    """Findings from the activity statement's answer; the worst one names the status."""
    connections = _connections(activity)
    findings = [
        *_long_queries(activity["active"], limits["long_query"]),
        *_lock_waits(activity["lock_waits"], activity["blockers"], limits["lock_wait"]),
        *_idle_transactions(activity["idle_in_transaction"], limits["idle_in_transaction"]),
        *_connection_finding(connections, limits),
    ]
    findings.sort(key=lambda f: (f.status != CheckStatus.FAIL, -f.weight))
    detail = [_connections_line(connections)]
    if not activity["can_read_all_stats"]:
        detail.append(_hidden_line(activity["role"], activity["hidden"]))
    detail += [finding.line for finding in findings]
    data: dict[str, Any] = {
        kind: [f.data for f in findings if f.kind == kind]
        for kind in ("long_queries", "lock_waits", "idle_in_transaction")
    }
    data.update(
        connections=connections,
        hidden_sessions=activity["hidden"],
        role=activity["role"],
        can_read_all_stats=activity["can_read_all_stats"],
        thresholds=dict(limits),
    )
    if not findings:
        summary = (
            f"{connections['clients']}/{connections['usable']} connections, "
            "no long queries, no lock waits"
        )
        return Outcome.passed(summary, tuple(detail), **data)
    worst, more = findings[0], len(findings) - 1
    summary = worst.summary + (f" (+{more} more)" if more else "")
    return Outcome(worst.status, summary, tuple(detail), data)


def _connections(activity: Mapping[str, Any]) -> dict[str, Any]:
    """Client sessions against the connections ordinary roles may open."""
    most = activity["max_connections"]
    reserved = activity["superuser_reserved_connections"] + activity["reserved_connections"]
    usable = most - reserved if most > reserved else most
    clients = activity["clients"]
    return {
        "clients": clients,
        "usable": usable,
        "percent": round(100 * clients / usable, 1),
        "max_connections": most,
        "superuser_reserved_connections": activity["superuser_reserved_connections"],
        "reserved_connections": activity["reserved_connections"],
    }


def _connections_line(c: Mapping[str, Any]) -> str:
    reserved = f"superuser_reserved_connections {c['superuser_reserved_connections']}"
    if c["reserved_connections"]:
        reserved += f" and reserved_connections {c['reserved_connections']}"
    return (
        f"connections: {c['clients']} client sessions of {c['usable']} usable "
        f"({c['percent']:g}%): max_connections {c['max_connections']} minus {reserved}; "
        "this check's own session is not counted"
    )


def _connection_finding(c: Mapping[str, Any], limits: Mapping[str, Any]) -> list[_Finding]:
    if c["percent"] >= limits["connections_fail"]:
        status, limit = CheckStatus.FAIL, limits["connections_fail"]
    elif c["percent"] >= limits["connections_warn"]:
        status, limit = CheckStatus.WARN, limits["connections_warn"]
    else:
        return []
    summary = f"{c['clients']}/{c['usable']} connections ({c['percent']:g}%)"
    line = f"connections at {c['percent']:g}% of the usable, {status.value} from {limit:g}%"
    # running out of connections stops everyone: it outweighs any single session
    return [_Finding("connections", status, summary, line, math.inf, c)]


def _hidden_line(role: str, hidden: int) -> str:
    return (
        f"role '{role}' lacks pg_read_all_stats: {hidden} session(s) of other roles show "
        "'<insufficient privilege>' (counted as connections, but their queries, lock waits "
        f"and idle transactions cannot be judged); GRANT pg_read_all_stats TO {role}"
    )


def _long_queries(active: list[dict[str, Any]], limit: float) -> list[_Finding]:
    findings = []
    for s in active:
        if (s["query_age"] or 0) < limit:
            continue
        age = format_age(s["query_age"])
        waiting = (
            f", waiting on {s['wait_event_type']}/{s['wait_event']}" if s["wait_event"] else ""
        )
        findings.append(
            _Finding(
                "long_queries",
                CheckStatus.FAIL,
                f"query running {age} (pid {s['pid']}): {_short(s)}",
                f"long query: {_who(s)}, running {age}{waiting}: {_query(s)}",
                s["query_age"],
                _session_data(s),
            )
        )
    return findings


def _lock_waits(
    waits: list[dict[str, Any]], blockers: list[dict[str, Any]], limit: float
) -> list[_Finding]:
    by_pid = {b["pid"]: b for b in blockers}
    findings = []
    for w in waits:
        age = _wait_age(w)
        pids = ", ".join(str(pid) for pid in w["blocking_pids"]) or "none visible"
        blocked_by = "; ".join(_blocker(pid, by_pid.get(pid)) for pid in w["blocking_pids"])
        findings.append(
            _Finding(
                "lock_waits",
                CheckStatus.FAIL if age >= limit else CheckStatus.WARN,
                f"lock wait {format_age(age)} (pid {w['pid']}, blocked by pid {pids}): {_short(w)}",
                f"lock wait: {_who(w)}, waiting {format_age(age)}: {_query(w)}; "
                f"blocked by {blocked_by or 'no session visible'}",
                age,
                _lock_wait_data(w, blockers),
            )
        )
    return findings


def _blocker(pid: int, session: Mapping[str, Any] | None) -> str:
    if session is None:  # a prepared transaction, or a backend gone since
        return f"pid {pid} (not in pg_stat_activity)"
    state = session["state"] or session["backend_type"] or "state hidden"
    return f"pid {pid} ({session['user']}, {state}): {_query(session)}"


def _idle_transactions(idle: list[dict[str, Any]], limit: float) -> list[_Finding]:
    findings = []
    for s in idle:
        if (s["state_age"] or 0) < limit:
            continue
        age = format_age(s["state_age"])
        findings.append(
            _Finding(
                "idle_in_transaction",
                CheckStatus.WARN,
                f"idle in transaction {age} (pid {s['pid']}): {_short(s)}",
                f"{s['state']}: {_who(s)}, idle {age}, transaction open "
                f"{format_age(s['transaction_age'] or 0)}, last query: {_query(s)}",
                s["state_age"],
                _session_data(s),
            )
        )
    return findings


def _wait_age(wait: Mapping[str, Any]) -> float:
    """Since the lock wait began; the query's start where the server does not say."""
    return wait["lock_wait_age"] if wait["lock_wait_age"] is not None else wait["query_age"]


def _who(s: Mapping[str, Any]) -> str:
    return (
        f"pid {s['pid']}, user {s['user']}, application {s['application_name'] or '-'}, "
        f"client {s['client_addr'] or 'local socket'}"
    )


def _query(s: Mapping[str, Any]) -> str:
    """The query on one line; … where the server's text was cut."""
    text = " ".join((s["query"] or "").split())
    return text + ("…" if s["query_truncated"] else "")


def _short(s: Mapping[str, Any]) -> str:
    text = _query(s)
    return text if len(text) <= SUMMARY_QUERY else text[: SUMMARY_QUERY - 1] + "…"


def _session_data(s: Mapping[str, Any]) -> dict[str, Any]:
    ages = ("query_age", "state_age", "transaction_age")
    return {
        **{key: value for key, value in s.items() if key not in ages},
        **{f"{key}_seconds": _seconds(s[key]) for key in ages},
    }


def _lock_wait_data(w: Mapping[str, Any], blockers: list[dict[str, Any]]) -> dict[str, Any]:
    data = _session_data({k: v for k, v in w.items() if k != "lock_wait_age"})
    data["wait_seconds"] = _seconds(_wait_age(w))
    data["blockers"] = [b for b in blockers if b["pid"] in w["blocking_pids"]]
    return data


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- sql_assert -----------------------------------------------------------------------------

ASSERT_PARAMS = (
    Param("sql", "string", required=True, help="one read-only query; its first row is judged"),
    Param("at_least", "number", help="the first column's value is at least this"),
    Param("at_most", "number", help="the first column's value is at most this"),
    Param("equals", "string", help="the first column's text is exactly this"),
    Param("max_age", "duration", help="the first column is a timestamp no older than this"),
)


@dataclass(frozen=True)
class _Answer:
    column: str  # the first column's name
    value: str | None  # its text in the first row, as the server writes it; None for NULL
    rows: int
    complete: bool  # False when more rows came than were kept
    age: float | None  # seconds from the value to now(), for max_age


class _Assertion:
    """The queries of one sql_assert, and which of them is running (for its errors)."""

    def __init__(self, statement: str, wants_age: bool) -> None:
        self.statement = statement
        self.wants_age = wants_age
        self.step = "the query"

    async def run(self, connection: Connection, deadline: float) -> _Answer | None:
        # the statement was lexed as the server does with standard strings
        await connection.execute(CONFORMING_STRINGS_SQL, timeout=time_left(deadline))
        copied = await copy_rows(connection, self.statement, deadline)
        if not copied.records:
            return None
        header, rows = copied.records[0], copied.records[1:]
        value = rows[0][0] if rows else None
        age = None
        if self.wants_age and value is not None and len(rows) == 1:
            self.step = "the age of the value"
            aged = await copy_rows(connection, age_sql(value), deadline)
            age = float(aged.records[1][0] or "nan")
        return _Answer(header[0] or "", value, len(rows), copied.complete, age)


async def _sql_assert(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    prepared = _prepare_assertion(ctx, params)
    if isinstance(prepared, Outcome):
        return prepared
    db, assertion, expected = prepared
    try:
        answer = await in_transaction(db, assertion.run)
    except SourceFailure as failure:
        return _unreachable(failure)
    except Exception as error:
        return _scrubbed(_sql_failure(error, db, assertion.step), db.target)
    if answer is None:
        return Outcome.errored("the server sent no result for the query")
    return _scrubbed(judge_answer(answer, expected), db.target)


def _prepare_assertion(
    ctx: CheckContext, params: Mapping[str, Any]
) -> tuple[Database, _Assertion, _Expected] | Outcome:
    """What to connect to, what to run and what to expect; or why the check cannot run."""
    db = _database(ctx)
    if isinstance(db, Outcome):
        return db
    given = _params(params, ASSERT_PARAMS)
    expected = _expectations(given)
    if isinstance(expected, Outcome):
        return expected
    try:
        statement = one_statement(str(given["sql"]))
    except UnsafeQuery as error:
        return Outcome.errored(f"refused: {error}; sql must be one read-only query")
    return db, _Assertion(statement, expected.max_age is not None), expected


@dataclass(frozen=True)
class _Expected:
    at_least: Decimal | None
    at_most: Decimal | None
    equals: str | None
    max_age: float | None

    def describe(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f"at least {_number(self.at_least)}")
        if self.at_most is not None:
            parts.append(f"at most {_number(self.at_most)}")
        if self.equals is not None:
            parts.append(f"equal to '{self.equals}'")
        if self.max_age is not None:
            parts.append(f"no older than {format_duration(self.max_age)}")
        return ", ".join(parts)


def _expectations(given: Mapping[str, Any]) -> _Expected | Outcome:
    if not given["sql"]:
        return Outcome.errored("sql is required: one read-only query returning one row")
    bounds = {}
    for name in ("at_least", "at_most"):
        value = given[name]
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 1000.0 reads "1,000"
        bounds[name] = None if value is None else Decimal(str(value))
    equals = None if given["equals"] is None else str(given["equals"])
    max_age = None if given["max_age"] is None else float(given["max_age"])
    expected = _Expected(bounds["at_least"], bounds["at_most"], equals, max_age)
    if not expected.describe():
        return Outcome.errored("nothing to judge: give at_least, at_most, equals or max_age")
    return expected


def judge_answer(answer: _Answer, expected: _Expected) -> Outcome:
    """Pass or fail by the expectations; error where the value cannot be judged."""
    label = "value" if answer.column in ("", "?column?") else answer.column
    data: dict[str, Any] = {
        "column": answer.column,
        "value": None if answer.value is None else answer.value[:2000],
        "rows": answer.rows if answer.complete else None,
        "expected": expected.describe(),
    }
    if answer.rows != 1:
        many = f"{answer.rows:,} rows" if answer.complete else "more than one row"
        said = "no rows" if answer.rows == 0 else many
        return Outcome.failed(f"the query returned {said} (expected exactly one)", **data)
    if answer.value is None:
        return Outcome.failed(f"{label} = NULL (expected {expected.describe()})", **data)
    shown = answer.value if len(answer.value) <= 200 else answer.value[:199] + "…"
    verdicts: list[tuple[str, bool]] = []
    if expected.at_least is not None or expected.at_most is not None:
        number = _decimal(answer.value)
        if number is None:
            return Outcome.errored(
                f"{label} = {shown}: not a number, so {expected.describe()} cannot be judged",
                **data,
            )
        shown = _number(number)
        if expected.at_least is not None:
            verdicts.append((f"at least {_number(expected.at_least)}", number >= expected.at_least))
        if expected.at_most is not None:
            verdicts.append((f"at most {_number(expected.at_most)}", number <= expected.at_most))
    if expected.equals is not None:
        verdicts.append((f"equal to '{expected.equals}'", answer.value == expected.equals))
    if expected.max_age is not None and answer.age is not None:
        age, limit = answer.age, expected.max_age
        shown += f", {format_age(age)} old" if age >= 0 else f", {format_age(-age)} ahead"
        verdicts.append((f"no older than {format_duration(limit)}", age <= limit))
        data["age_seconds"] = round(age, 3)
    detail = tuple(f"{what}: {'met' if met else 'NOT met'}" for what, met in verdicts)
    if all(met for _, met in verdicts):
        return Outcome.passed(f"{label} = {shown} ({expected.describe()})", detail, **data)
    return Outcome.failed(f"{label} = {shown} (expected {expected.describe()})", detail, **data)


def _sql_failure(  # noqa: PLR0911 - one return for each kind of failure
    error: Exception, db: Database, step: str
) -> Outcome:
    """What a failed assertion query tells: refused, cut, or the server's own message."""
    sqlstate = getattr(error, "sqlstate", None)
    message = str(error) or type(error).__name__
    if sqlstate == "25006":
        return Outcome.errored(f"refused: the console's transactions are read-only ({message})")
    if sqlstate == "0A000" and "RETURNING" in message:
        return Outcome.errored(
            "refused: the console's transactions are read-only, and sql must be a query "
            f"that returns rows (the server: {message})"
        )
    if sqlstate == "57014" and "statement timeout" in message:
        return Outcome.failed(
            f"cut by statement_timeout ({db.statement_timeout}): {step} ran longer"
        )
    if sqlstate == "55P03":
        return Outcome.failed(
            f"cut by lock_timeout ({db.lock_timeout}): {step} waited on a lock "
            "another session holds"
        )
    if step != "the query" and sqlstate and sqlstate.startswith("22"):
        return Outcome.errored(f"max_age needs a timestamp in the first column: {message}")
    if is_connection_lost(error):
        return Outcome.failed(f"database unreachable: connection lost during {step}: {message}")
    if sqlstate:
        hint = getattr(error, "hint", None)
        advice = f"; hint: {hint}" if hint else ""
        return Outcome.errored(f"{step} failed: {message} (SQLSTATE {sqlstate}){advice}")
    return Outcome.errored(query_failure(error, db.target, step, db.config.timeout).message)


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return None if number.is_nan() else number


def _number(value: Decimal) -> str:
    """1,204 and 3.14: thousands grouped, never an exponent."""
    return format(value, ",f")


KINDS: tuple[CheckKind, ...] = (
    CheckKind(
        name="postgres_activity",
        title="PostgreSQL activity: long queries, lock waits, idle transactions, connections",
        params=ACTIVITY_PARAMS,
        timeout=10.0,
        run=_activity,
    ),
    CheckKind(
        name="sql_assert",
        title="Read-only SQL assertion",
        params=ASSERT_PARAMS,
        timeout=10.0,
        run=_sql_assert,
    ),
)
