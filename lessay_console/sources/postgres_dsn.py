"""Reading a PostgreSQL DSN: where it points, as whom, and which TLS it gets.

asyncpg takes only URI DSNs; operators also write libpq's keyword form
(`host=db1 user=monitor sslmode=verify-full`), so that form is turned into a
URI here. The parsed `Target` says where the DSN points and as whom (for
messages) and holds the password only to scrub it from them. It never shows
the DSN itself.

The TLS rule (DESIGN section 11, "TLS verification is on unless a target sets
it off explicitly"): a server reached over the network is verified with
`verify-full` unless the DSN (or PGSSLMODE) names an `sslmode`; loopback and
Unix sockets keep what the DSN says, libpq's default `prefer` included.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

# libpq keywords asyncpg does not know, which it would forward to the server
# as startup parameters (and the server, or PgBouncer, would refuse); the
# console has its own timeouts.
_CLIENT_ONLY = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval"}
_KEYWORD_PAIR = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")
_VERIFY_FULL = "verify-full"


class DsnError(ValueError):
    """A DSN that cannot be read; the message never quotes the DSN."""


@dataclass(frozen=True)
class Target:
    """What a DSN points at. `uri` is for asyncpg; `str()` never shows a password."""

    uri: str = field(repr=False)
    hosts: tuple[str, ...]  # as written; () means libpq's defaults (PGHOST, the local socket)
    ports: tuple[str, ...]
    user: str | None
    database: str | None
    password: str | None = field(repr=False)
    sslmode: str | None  # only when the DSN says so
    sslrootcert: str | None

    @property
    def role(self) -> str:
        """The role asyncpg will log in as: the DSN's, PGUSER, or the OS user."""
        return self.user or os.environ.get("PGUSER") or getpass.getuser()

    @property
    def effective_hosts(self) -> tuple[str, ...]:
        if self.hosts:
            return self.hosts
        return tuple(h for h in os.environ.get("PGHOST", "").split(",") if h)

    def where(self) -> str:
        """`host:port/database` for messages, or a socket's path and the database."""
        ports = self.ports or (os.environ.get("PGPORT") or "5432",)
        places = []
        for i, host in enumerate(self.effective_hosts):
            port = ports[min(i, len(ports) - 1)]  # one port may serve every host
            places.append(f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}")
        database = self.database or self.role
        if places and not any(place.startswith("/") for place in places):
            return f"{', '.join(places)}/{database}"
        return f"{', '.join(places) or 'the local socket'} (database {database})"

    def __str__(self) -> str:
        return f"{self.role}@{self.where()}"


def parse_dsn(dsn: str) -> Target:
    """Read a URI or keyword DSN into a `Target`. Raises `DsnError`."""
    text = dsn.strip()
    uri = text if "://" in text else keyword_dsn_to_uri(text)
    try:
        parts = urlsplit(uri)
        query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    except ValueError as error:
        raise DsnError(f"the DSN is not a valid URI: {error}") from None
    if parts.scheme not in {"postgres", "postgresql"}:
        raise DsnError(
            f"the DSN must start with postgresql:// (or be keyword=value pairs), "
            f"not {parts.scheme or 'nothing'}://"
        )
    userinfo, _, hostspec = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts, ports = _host_list(unquote(hostspec)) if hostspec else ((), ())
    if not hosts and query.get("host"):
        hosts, ports = _host_list(query["host"])
    if query.get("port"):
        ports = tuple(query["port"].split(","))
    kept = {k: v for k, v in query.items() if k not in _CLIENT_ONLY}
    # rebuilt by hand: urlunsplit would drop the empty host of postgresql:///db
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if kept:
        clean += "?" + urlencode(kept, quote_via=quote)
    return Target(
        uri=clean,
        hosts=hosts,
        ports=ports,
        user=unquote(user) or query.get("user") or None,
        database=unquote(parts.path.lstrip("/"))
        or query.get("dbname")
        or query.get("database")
        or None,
        password=unquote(password) or query.get("password") or None,
        sslmode=query.get("sslmode") or None,
        sslrootcert=query.get("sslrootcert") or None,
    )


def keyword_dsn_to_uri(dsn: str) -> str:
    """libpq's `key=value ...` form as a URI asyncpg reads, every key in the query."""
    pairs: dict[str, str] = {}
    position = 0
    while position < len(dsn.rstrip()):
        match = _KEYWORD_PAIR.match(dsn, position)
        if match is None:
            raise DsnError("the DSN is neither a postgresql:// URI nor key=value pairs")
        key, value = match.groups()
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pairs[key] = value
        position = match.end()
    if not pairs:
        raise DsnError("the DSN is empty")
    return "postgresql:///?" + urlencode(pairs, quote_via=quote)


def _host_list(spec: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`h1:5432,[::1]:5433,/run/postgresql` into hosts and ports."""
    hosts: list[str] = []
    ports: list[str] = []
    for item in spec.split(","):
        host, port = item, ""
        if item.startswith("["):  # [ipv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        elif not item.startswith("/") and item.count(":") == 1:
            host, _, port = item.partition(":")
        hosts.append(host)
        if port:
            ports.append(port)
    return tuple(hosts), tuple(ports)


def is_local(host: str) -> bool:
    """A Unix socket path, localhost, or a loopback address: no network in between."""
    if host.startswith(("/", "@")) or host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_mode(hosts: Sequence[str], explicit_sslmode: str | None) -> str | None:
    """The sslmode the console imposes: `verify-full` for a network server, else None.

    An explicit sslmode (in the DSN, or PGSSLMODE) always wins; None means
    "use what the DSN says", libpq's default `prefer` for local servers.
    No hosts means libpq's default, the local socket.
    """
    if explicit_sslmode:
        return None
    if any(not is_local(host) for host in hosts):
        return _VERIFY_FULL
    return None


def ssl_argument(target: Target) -> str | bool | None:
    """asyncpg's `ssl=` for a target, following `tls_mode`.

    `verify-full` needs a CA: the DSN's sslrootcert, PGSSLROOTCERT or
    ~/.postgresql/root.crt as libpq would; failing those, the system's
    trust store (ssl=True is verify-full against it).
    """
    explicit = target.sslmode or os.environ.get("PGSSLMODE")
    if tls_mode(target.effective_hosts, explicit) is None:
        return None
    if target.sslrootcert or os.environ.get("PGSSLROOTCERT"):
        return _VERIFY_FULL
    if (Path.home() / ".postgresql" / "root.crt").exists():
        return _VERIFY_FULL
    return True
