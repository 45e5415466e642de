"""How the PostgreSQL checks reach the database, and what both of them share.

A check connects for itself and runs in one transaction of the console's
(`sources.postgres.read_only_transaction`): BEGIN READ ONLY with `SET LOCAL`
statement and lock timeouts and `application_name`, nothing set on the
session. Every statement goes over the simple query protocol as `COPY (query)
TO STDOUT`, as the PostgreSQL source does: nothing is prepared, so PgBouncer
in transaction pooling mode can hand each transaction to any server
connection. What may be put inside that `COPY (...)` is `postgres_sql`'s to say.

Every text a check returns is scrubbed of the DSN's password (a query text or
a server message may quote it); the runner then redacts and sanitizes it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from lessay_console.checks.model import CheckContext, Outcome
from lessay_console.config.durations import format_duration
from lessay_console.config.model import PostgresConfig
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres import (
    TransactionSettings,
    open_connection,
    read_only_transaction,
)
from lessay_console.sources.postgres_dsn import DsnError, Target, parse_dsn
from lessay_console.sources.postgres_errors import scrub

if TYPE_CHECKING:
    from asyncpg import Connection

T = TypeVar("T")
NOT_CONFIGURED = "no [postgres] dsn in the configuration"
RESULT_LIMIT = 1 << 20  # bytes of a query's result kept; one row is all a check judges


@dataclass(frozen=True)
class Database:
    """Where a check connects, and what its transaction sets."""

    config: PostgresConfig
    target: Target
    settings: TransactionSettings

    @property
    def statement_timeout(self) -> str:
        return format_duration(self.settings.statement_timeout / 1000)

    @property
    def lock_timeout(self) -> str:
        return format_duration(self.settings.lock_timeout / 1000)


async def in_transaction(db: Database, work: Callable[[Connection, float], Awaitable[T]]) -> T:
    """`work(connection, deadline)` in one read-only transaction on a new connection.

    Connecting and the transaction share the config's timeout. Raises
    `SourceFailure` when no connection is made, asyncpg's errors otherwise.
    """
    deadline = time.monotonic() + db.config.timeout
    connection = await open_connection(db.config, db.target, within=db.config.timeout)
    try:
        async with read_only_transaction(connection, db.settings, deadline):
            return await work(connection, deadline)
    finally:
        if not connection.is_closed():
            try:
                await connection.close(timeout=time_left(deadline))
            except Exception:  # closing politely failed: drop the socket
                connection.terminate()


@dataclass(frozen=True)
class Copied:
    records: list[list[str | None]]  # the header, then the rows
    complete: bool  # False when the output passed RESULT_LIMIT and the rest was dropped


async def copy_rows(connection: Connection, query: str, deadline: float) -> Copied:
    """Run `query` as COPY (query) TO STDOUT: the simple query protocol, nothing prepared."""
    kept: list[bytes] = []
    size = 0

    async def keep(data: bytes) -> None:
        nonlocal size
        if size < RESULT_LIMIT:
            kept.append(bytes(data))
        size += len(data)

    # the newline ends a trailing -- comment before asyncpg's closing parenthesis
    await connection.copy_from_query(
        query + "\n",
        output=keep,
        format="csv",
        header=True,
        force_quote=True,
        timeout=time_left(deadline),
    )
    text = b"".join(kept)[:RESULT_LIMIT].decode("utf-8", errors="replace")
    return Copied(csv_records(text), complete=size <= RESULT_LIMIT)


def time_left(deadline: float) -> float:
    """Seconds until `deadline`; a sliver when passed, so asyncpg times out at once."""
    return max(0.001, deadline - time.monotonic())


# --- what COPY sends back ---------------------------------------------------------------

Record = list[str | None]


def csv_records(text: str) -> list[Record]:
    """The complete records of `COPY ... (FORMAT csv, FORCE_QUOTE *)` output.

    With FORCE_QUOTE every value is quoted, so an unquoted empty field is NULL
    (Python's csv module cannot tell it from ''). A record not ended by a
    newline (output cut short) is left out.
    """
    records: list[Record] = []
    fields: Record = []
    at = 0
    while at < len(text):
        if text[at] == '"':
            value, at = _quoted_field(text, at)
            if value is None:  # cut inside the quotes
                break
            fields.append(value)
        else:
            stop = at
            while stop < len(text) and text[stop] not in ",\n":
                stop += 1
            fields.append(text[at:stop] or None)
            at = stop
        if at >= len(text):
            break
        if text[at] == "\n":
            records.append(fields)
            fields = []
        at += 1
    return records


def _quoted_field(text: str, at: int) -> tuple[str | None, int]:
    parts, at = [], at + 1
    while True:
        close = text.find('"', at)
        if close < 0:
            return None, len(text)
        parts.append(text[at:close])
        if text.startswith('"', close + 1):
            parts.append('"')
            at = close + 2
        else:
            return "".join(parts), close + 1


# --- what both checks make of it -------------------------------------------------------


def database(ctx: CheckContext) -> Database | Outcome:
    """Where the checks connect, or the outcome that says why they cannot."""
    config = ctx.config.postgres
    if config is None:
        return Outcome.skipped(NOT_CONFIGURED)
    try:
        target = parse_dsn(config.dsn.reveal())
    except DsnError as error:
        return Outcome.errored(f"[postgres] dsn: {error}")
    return Database(config, target, TransactionSettings.for_config(config))


def unreachable(failure: SourceFailure) -> Outcome:
    """No connection was made: a configuration error, a refusal, or no answer."""
    if failure.kind == "config":
        return Outcome.errored(failure.message)
    if failure.kind in ("auth", "permission"):
        return Outcome.failed(f"database refused the connection: {failure.message}")
    return Outcome.failed(f"database unreachable: {failure.message}")


def scrubbed(outcome: Outcome, target: Target) -> Outcome:
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
