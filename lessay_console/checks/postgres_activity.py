"""The `postgres_activity` check: the guide's `pg_stat_activity` diagnostic.

It reports long-running queries, lock waits with their blockers, sessions idle
in a transaction and client connections against `max_connections`, all read by
one statement (`postgres_sql.ACTIVITY_SQL`) and judged here; the worst finding
names the status. How it reaches the database is in `postgres_connection`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.checks.postgres_connection import (
    copy_rows,
    database,
    in_transaction,
    scrubbed,
    unreachable,
)
from lessay_console.checks.postgres_sql import ACTIVITY_SQL
from lessay_console.config.durations import format_age
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres_errors import query_failure

if TYPE_CHECKING:
    from asyncpg import Connection

SUMMARY_QUERY = 60  # characters of a query text in a one-line summary

PARAMS = (
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
    """One thing wrong: a session, a lock wait or the connection count, as shown and kept."""

    kind: str  # the data list it goes in: long_queries, lock_waits, idle_in_transaction
    status: CheckStatus  # FAIL or WARN
    summary: str
    line: str
    weight: float  # among findings of one status, the heaviest is the worst
    data: Mapping[str, Any]


async def check_activity(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    db = database(ctx)
    if isinstance(db, Outcome):
        return db
    limits = POSTGRES_ACTIVITY.with_defaults(params)

    async def read(connection: Connection, deadline: float) -> dict[str, Any]:
        copied = await copy_rows(connection, ACTIVITY_SQL, deadline)
        return json.loads(copied.records[1][0] or "{}")

    try:
        activity = await in_transaction(db, read)
    except SourceFailure as failure:
        return unreachable(failure)
    except Exception as error:
        failure = query_failure(error, db.target, "the activity query", db.config.timeout)
        if failure.kind == "connect":
            return Outcome.failed(f"database unreachable: {failure.message}")
        if failure.kind == "timeout":  # too slow to answer is itself what the check looks for
            return Outcome.failed(failure.message)
        return Outcome.errored(failure.message)
    return scrubbed(judge_activity(activity, limits), db.target)


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


POSTGRES_ACTIVITY = CheckKind(
    name="postgres_activity",
    title="PostgreSQL activity: long queries, lock waits, idle transactions, connections",
    params=PARAMS,
    timeout=10.0,
    run=check_activity,
)

KINDS: tuple[CheckKind, ...] = (POSTGRES_ACTIVITY,)
