"""The `sql_assert` check: one read-only query, the first column of its one row judged.

Row counts, latest timestamps: the recovery runbook's consistency checks. The
query must be exactly one statement (`postgres_sql.one_statement`); it runs in
the console's read-only transaction, as `postgres_connection` runs every
statement. The value is judged against at_least, at_most, equals and max_age.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lessay_console.checks.model import CheckContext, CheckKind, Outcome, Param
from lessay_console.checks.postgres_connection import (
    Database,
    copy_rows,
    database,
    in_transaction,
    scrubbed,
    time_left,
    unreachable,
)
from lessay_console.checks.postgres_sql import (
    CONFORMING_STRINGS_SQL,
    UnsafeQuery,
    age_sql,
    one_statement,
)
from lessay_console.config.durations import format_age, format_duration
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres_errors import is_connection_lost, query_failure

if TYPE_CHECKING:
    from asyncpg import Connection

PARAMS = (
    Param("sql", "string", required=True, help="one read-only query; its first row is judged"),
    Param("at_least", "number", help="the first column's value is at least this"),
    Param("at_most", "number", help="the first column's value is at most this"),
    Param("equals", "string", help="the first column's text is exactly this"),
    Param("max_age", "duration", help="the first column is a timestamp no older than this"),
)


@dataclass(frozen=True)
class _Answer:
    """What the query answered, as far as the judging needs it."""

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


async def check_sql_assert(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    prepared = _prepare_assertion(ctx, params)
    if isinstance(prepared, Outcome):
        return prepared
    db, assertion, expected = prepared
    try:
        answer = await in_transaction(db, assertion.run)
    except SourceFailure as failure:
        return unreachable(failure)
    except Exception as error:
        return scrubbed(_sql_failure(error, db, assertion.step), db.target)
    if answer is None:
        return Outcome.errored("the server sent no result for the query")
    return scrubbed(judge_answer(answer, expected), db.target)


def _prepare_assertion(
    ctx: CheckContext, params: Mapping[str, Any]
) -> tuple[Database, _Assertion, _Expected] | Outcome:
    """What to connect to, what to run and what to expect; or why the check cannot run."""
    db = database(ctx)
    if isinstance(db, Outcome):
        return db
    given = SQL_ASSERT.with_defaults(params)
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


SQL_ASSERT = CheckKind(
    name="sql_assert",
    title="Read-only SQL assertion",
    params=PARAMS,
    timeout=10.0,
    run=check_sql_assert,
)

KINDS: tuple[CheckKind, ...] = (SQL_ASSERT,)
