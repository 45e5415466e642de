"""Turning what asyncpg raises into a typed `SourceFailure` an operator can act on.

Each message says what failed, where (the role and `host:port/database`,
never the DSN) and what to do. Server errors are told apart by SQLSTATE, so asyncpg's
exception classes need not be imported for it. Every message is scrubbed of
the password, however the server or a library phrased it.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Callable

from lessay_console.redaction import MASK, redact
from lessay_console.samples import SourceFailure
from lessay_console.sources.postgres_dsn import Target

_LOST = "connection lost"
_UNUSABLE = {"InterfaceError", "InternalClientError"}
# (error, target, timeout) -> (kind, message)
_Explain = Callable[[BaseException, Target, float], tuple[str, str]]


def scrub(text: str, target: Target) -> str:
    """`text` without any credential: redacted, and the password itself masked."""
    text = redact(text)
    for secret in (target.password, os.environ.get("PGPASSWORD")):
        if secret:
            # not inside a word: a short password must not mask letters of "by"
            pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
            text = re.sub(pattern, MASK, text)
    return text


def connect_failure(error: BaseException, target: Target, timeout: float) -> SourceFailure:
    """Why a connection could not be made."""
    kind, message = _connect_reason(error, target, timeout)
    return SourceFailure(kind, scrub(message, target))


def query_failure(error: BaseException, target: Target, what: str, timeout: float) -> SourceFailure:
    """Why `what` (the transaction set-up, the activity query, the probe, the commit) failed."""
    kind, message = _query_reason(error, target, what, timeout)
    return SourceFailure(kind, scrub(message, target))


def is_connection_lost(error: BaseException) -> bool:
    """The connection is gone (server restart, pg_terminate_backend, network): reconnect."""
    sqlstate = getattr(error, "sqlstate", "") or ""
    if sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}:
        return True
    if isinstance(error, ConnectionError):
        return True
    # asyncpg's own: a closed connection, or one whose protocol was left mid-way (a
    # FATAL from pg_terminate_backend arriving between two statements)
    return any(kind.__name__ in _UNUSABLE for kind in type(error).__mro__)


# server refusals at connect time, by SQLSTATE; 28xxx other than 28P01 are told apart below
_REFUSALS: dict[str, tuple[str, str]] = {
    "28P01": (
        "auth",
        "password authentication failed for role '{role}' at {where}: the password is wrong "
        "or the role does not exist (the server does not say which); check the password "
        "(in the DSN, PGPASSWORD or PGPASSFILE) and that the role exists",
    ),
    "3D000": ("config", "database '{database}' does not exist on {where}; fix it in the DSN"),
    "42501": (
        "permission",
        "role '{role}' may not connect to {where}: {text}; "
        "GRANT CONNECT ON DATABASE {database} TO {role}",
    ),
    "53300": ("connect", "{where} refuses new connections: {text} (max_connections reached)"),
    "57P01": ("connect", "{where} is not accepting connections now: {text}"),
    "57P03": ("connect", "{where} is not accepting connections now: {text}"),
}

# failures of the statements on an open connection, by SQLSTATE
_STATEMENT_ERRORS: dict[str, tuple[str, str]] = {
    "57014": (
        "timeout",
        "the server cancelled {what} at the console's statement_timeout: "
        "{where} is too slow to answer",
    ),
    "55P03": (
        "timeout",
        "{what} waited past the console's lock_timeout: a session on {where} holds "
        "an exclusive lock on a system catalog",
    ),
    "42501": (
        "permission",
        "role '{role}' may not run {what} on {where}: {text}; GRANT pg_read_all_stats TO {role}",
    ),
}


def _connect_reason(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is not None:
        return _refusal(sqlstate, str(error), target)
    for kinds, explain in _CLIENT_ERRORS:
        if isinstance(error, kinds):
            return explain(error, target, timeout)
    if type(error).__name__ == "ClientConfigurationError":
        return "config", f"cannot connect to {target.where()}: {error}"
    return "internal", f"cannot connect to {target.where()}: {type(error).__name__}: {error}"


def _refusal(sqlstate: str, text: str, target: Target) -> tuple[str, str]:
    fields = {"where": target.where(), "role": target.role, "text": text}
    fields["database"] = target.database or target.role
    if sqlstate in _REFUSALS:
        kind, template = _REFUSALS[sqlstate]
        return kind, template.format(**fields)
    if sqlstate.startswith("28"):
        return "auth", _authorization(text, target)
    return "internal", "cannot connect to {where}: {text} (SQLSTATE {sqlstate})".format(
        sqlstate=sqlstate, **fields
    )


def _timed_out(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    return "timeout", (
        f"no answer from {target.where()} within {timeout:.2g}s while connecting: the server "
        "or a firewall on the way is silent; check the host, the port and that PostgreSQL is up"
    )


def _unresolved(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    hosts = ", ".join(target.effective_hosts)
    reason = getattr(error, "strerror", None) or str(error)
    return "connect", f"cannot resolve host {hosts}: {reason}; check the host name in the DSN"


def _refused(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    return "connect", (
        f"connection refused by {target.where()}: nothing listens there; "
        "check that the server runs and the DSN's host and port"
    )


def _unverified(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    reason = getattr(error, "verify_message", None) or str(error)
    return "connect", (
        f"TLS verification of {target.where()} failed ({reason}): network servers are "
        "verified with sslmode=verify-full; give the server's CA with sslrootcert= in the "
        "DSN, or set sslmode= in the DSN explicitly"
    )


def _tls_or_closed(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    text = str(error) or type(error).__name__
    hint = ""
    if "SSL" in text and target.sslmode is None:
        hint = (
            "; network servers are verified with sslmode=verify-full: enable TLS on the "
            "server, or set sslmode= in the DSN explicitly"
        )
    return "connect", f"cannot connect to {target.where()}: {text}{hint}"


def _unreachable(error: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    reason = getattr(error, "strerror", None) or str(error)
    return "connect", f"cannot reach {target.where()}: {reason}"


# client-side failures, most specific first (TimeoutError and gaierror are OSErrors,
# ConnectionRefusedError a ConnectionError, SSLCertVerificationError an SSLError)
_CLIENT_ERRORS: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], _Explain], ...
] = (
    (TimeoutError, _timed_out),
    (socket.gaierror, _unresolved),
    (ConnectionRefusedError, _refused),
    (ssl.SSLCertVerificationError, _unverified),
    ((ssl.SSLError, ConnectionError), _tls_or_closed),
    (OSError, _unreachable),
)


def _authorization(text: str, target: Target) -> str:
    """A 28000 from the server: pg_hba.conf, a missing role, or a role without LOGIN."""
    where, role = target.where(), target.role
    if "pg_hba.conf" in text:
        return (
            f"the server's pg_hba.conf refuses role '{role}' from this host at {where} "
            f"({text}); ask the DBA to allow this role and host in pg_hba.conf "
            "(a hostssl line needs sslmode=require or stricter)"
        )
    if "does not exist" in text:
        return (
            f"role '{role}' does not exist on {where}; create it "
            f"(CREATE ROLE {role} LOGIN PASSWORD '...'; GRANT pg_read_all_stats TO {role}) "
            "or fix the user in the DSN"
        )
    if "not permitted to log in" in text:
        return f"role '{role}' may not log in at {where}; ALTER ROLE {role} LOGIN"
    return f"role '{role}' was refused by {where}: {text}"


def _query_reason(
    error: BaseException, target: Target, what: str, timeout: float
) -> tuple[str, str]:
    where = target.where()
    sqlstate = getattr(error, "sqlstate", None)
    text = str(error) or type(error).__name__
    if isinstance(error, TimeoutError):
        return "timeout", f"{what} got no answer from {where} within {timeout:.2g}s"
    if sqlstate in _STATEMENT_ERRORS:
        kind, template = _STATEMENT_ERRORS[sqlstate]
        return kind, template.format(what=what, where=where, role=target.role, text=text)
    if is_connection_lost(error):
        return "connect", f"{_LOST} to {where} during {what}: {text}; reconnecting"
    detail = f"SQLSTATE {sqlstate}" if sqlstate else type(error).__name__
    return "internal", f"{what} failed on {where}: {text} ({detail})"
