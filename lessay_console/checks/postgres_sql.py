"""The SQL the PostgreSQL checks send, and the guard on a user's query.

Every statement runs as `COPY (query) TO STDOUT` over the simple query protocol
(see `postgres_connection`), and the simple protocol runs every statement it is
given, `COMMIT` included, so a user's query put inside `COPY (...)` must not be
able to close that parenthesis: `one_statement` lexes it the way the server does
(comments, quoted strings and identifiers, nested parentheses) and refuses what
could end the COPY or start another statement. Where the server's lexing and ours
could disagree (dollar quotes, a backslash in a string that may or may not be
an `E'...'` one) the query is refused rather than guessed at.
"""

from __future__ import annotations

import re

# One JSON document: the client backends other than the check's own, with their ages in
# seconds and query texts cut at 500 characters, sorted into what the check judges.
# A role without pg_read_all_stats sees other roles' sessions with backend_type, state
# and query_start NULL and the query "<insufficient privilege>": they are still counted
# (datid and usesysid set them apart from background processes).
# A lock wait starts at pg_locks.waitstart (PostgreSQL 14+); read through to_jsonb, an
# older server gives NULL rather than an error, and the query's start stands in.
ACTIVITY_SQL = """\
WITH sessions AS (
    SELECT pid, usename AS user, application_name, client_addr::text AS client_addr,
           state, wait_event_type, wait_event,
           left(query, 500) AS query,
           length(query) > 500 AS query_truncated,
           extract(epoch FROM clock_timestamp() - query_start)::float8 AS query_age,
           extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_age,
           extract(epoch FROM clock_timestamp() - xact_start)::float8 AS transaction_age
    FROM pg_stat_activity
    WHERE pid <> pg_backend_pid()
      AND (backend_type = 'client backend'
           OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL))
),
waiting AS (
    SELECT s.*, pg_blocking_pids(s.pid) AS blocking_pids,
           (SELECT extract(epoch FROM clock_timestamp()
                   - min((to_jsonb(l) ->> 'waitstart')::timestamptz))::float8
              FROM pg_locks AS l WHERE l.pid = s.pid AND NOT l.granted) AS lock_wait_age
    FROM sessions AS s
    WHERE s.wait_event_type = 'Lock'
)
SELECT json_build_object(
    'max_connections', current_setting('max_connections')::int,
    'superuser_reserved_connections',
        current_setting('superuser_reserved_connections')::int,
    'reserved_connections', coalesce(current_setting('reserved_connections', true)::int, 0),
    'can_read_all_stats', pg_has_role('pg_read_all_stats', 'USAGE'),
    'role', current_user,
    'clients', (SELECT count(*) FROM sessions),
    'hidden', (SELECT count(*) FROM sessions WHERE state IS NULL),
    'active', (SELECT coalesce(json_agg(s ORDER BY s.query_age DESC), '[]')
                 FROM sessions AS s
                WHERE s.state = 'active' AND s.wait_event_type IS DISTINCT FROM 'Lock'),
    'idle_in_transaction', (SELECT coalesce(json_agg(s ORDER BY s.state_age DESC), '[]')
                              FROM sessions AS s
                             WHERE s.state LIKE 'idle in transaction%'),
    'lock_waits', (SELECT coalesce(json_agg(w ORDER BY w.query_age DESC), '[]')
                     FROM waiting AS w),
    'blockers', (SELECT coalesce(json_agg(json_build_object(
                        'pid', b.pid, 'user', b.usename, 'application_name', b.application_name,
                        'state', b.state, 'query', left(b.query, 500),
                        'query_truncated', length(b.query) > 500,
                        'backend_type', b.backend_type) ORDER BY b.pid), '[]')
                   FROM pg_stat_activity AS b
                  WHERE b.pid IN (SELECT unnest(blocking_pids) FROM waiting))
)"""

# Makes the server lex string literals as `one_statement` does: a backslash in '...'
# is a character, whatever the server's configuration. Ends with the transaction.
CONFORMING_STRINGS_SQL = "SET LOCAL standard_conforming_strings = on"


def age_sql(timestamp_text: str) -> str:
    """How old the value (as the server wrote it) is against now(), in seconds.

    now() is the transaction's start: the same instant the user's query saw.
    """
    literal = quote_literal(timestamp_text)
    return f"SELECT extract(epoch FROM now() - {literal}::timestamptz)"  # noqa: S608 - quoted


def quote_literal(text: str) -> str:
    """An E'...' literal: read the same whatever standard_conforming_strings says."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class UnsafeQuery(ValueError):
    """A query that cannot be run inside `COPY (...)`; the message says why."""


_WORD = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]+")  # key words, identifiers, numbers
_LINE_END = re.compile(r"[\r\n]")  # the server ends a -- comment at either


def one_statement(sql: str) -> str:
    """`sql` without its trailing `;`, when it is exactly one statement that cannot end
    the `COPY (...)` it is put in. Raises `UnsafeQuery`."""
    if "\x00" in sql:
        raise UnsafeQuery("the query contains a NUL character")
    lexer = _Lexer(sql)
    lexer.run()
    text = sql[: lexer.end].strip()
    if not text:
        raise UnsafeQuery("the query is empty")
    return text


class _Lexer:
    """Walks `sql` as the server's lexer would, tracking only what can end a statement."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.at = 0
        self.depth = 0  # parentheses open
        self.end = len(sql)  # where the statement ends: its `;`, or the end of the text
        self.ended = False
        self.word = ""  # the word just before `at`, if it touches it
        self.word_end = -1
        self.after_e_string = False  # a string right after an E'...' may continue it

    def run(self) -> None:
        sql = self.sql
        while self.at < len(sql):
            char, pair = sql[self.at], sql[self.at : self.at + 2]
            if char.isspace() and char.isascii():
                self.at += 1
            elif pair == "--":
                found = _LINE_END.search(sql, self.at)
                self.at = found.end() if found else len(sql)
            elif pair == "/*":
                self._comment()
            elif self.ended and char != ";":
                raise UnsafeQuery("one statement only: there is more after its ';'")
            elif char == "'":
                self._string()
            elif char == '"':
                self._quoted_identifier()
            else:
                self._code(char)
        if self.depth:
            raise UnsafeQuery("a '(' is not closed")

    def _code(self, char: str) -> None:
        self.after_e_string = False
        if char == "$":
            raise UnsafeQuery("dollar quotes, $n parameters and $ in names are not supported")
        if char == ";":
            if self.depth:
                raise UnsafeQuery("a ';' inside parentheses")
            if not self.ended:
                self.end, self.ended = self.at, True
        elif char == "(":
            self.depth += 1
        elif char == ")":
            self.depth -= 1
            if self.depth < 0:
                raise UnsafeQuery("a ')' closes no '('")
        word = _WORD.match(self.sql, self.at)
        if word:
            self.word, self.word_end = word.group(), word.end()
            self.at = word.end()
        else:
            self.at += 1

    def _comment(self) -> None:
        """/* ... */, which nest."""
        depth, at = 0, self.at
        while at < len(self.sql):
            pair = self.sql[at : at + 2]
            if pair == "/*":
                depth, at = depth + 1, at + 2
            elif pair == "*/":
                depth, at = depth - 1, at + 2
                if depth == 0:
                    self.at = at
                    return
            else:
                at += 1
        raise UnsafeQuery("a /* comment is not closed")

    def _string(self) -> None:
        prefix = self.word if self.word_end == self.at else ""
        if prefix in ("e", "E"):
            escapes, backslash_ok = True, True
        elif prefix[-1:] in ("e", "E") or self.after_e_string:
            # "1e'..'" may lex as 1 and E'..'; a string after an E-string may continue it:
            # without a backslash both readings end the string at the same quote
            escapes, backslash_ok = False, False
        else:
            escapes, backslash_ok = False, True
        sql, at = self.sql, self.at + 1
        while at < len(sql):
            char = sql[at]
            if char == "\\":
                if not backslash_ok:
                    raise UnsafeQuery(
                        "a backslash in a string that could be read two ways: "
                        "write E'...' for escapes, or put a space before the quote"
                    )
                at += 2 if escapes else 1
            elif char == "'":
                if sql.startswith("'", at + 1):
                    at += 2
                    continue
                self.at = at + 1
                self.after_e_string = escapes
                self.word_end = -1
                return
            else:
                at += 1
        raise UnsafeQuery("a string is not closed")

    def _quoted_identifier(self) -> None:
        self.after_e_string = False
        sql, at = self.sql, self.at + 1
        while at < len(sql):
            if sql[at] == '"':
                if sql.startswith('"', at + 1):
                    at += 2
                    continue
                self.at = at + 1
                self.word_end = -1
                return
            at += 1
        raise UnsafeQuery('a "quoted" name is not closed')
