"""A real PostgreSQL server (and a PgBouncer in front of it) for tests.

`postgres_server` is session-scoped. With `LESSAY_TEST_PG_DSN` set (a
superuser DSN), the tests use that server; otherwise a private cluster is
made with `initdb` in a temporary directory, listening on 127.0.0.1 on a free
port and on a Unix socket in that directory, and removed at the end of the
session. Over TCP it asks for SCRAM passwords, so authentication failures in
tests are real ones.

`pgbouncer_server` starts a private PgBouncer in transaction pooling mode in
front of that server.

Where neither can be had, the tests that need them skip with the reason; under
`CI=true` they fail instead, because CI must never silently skip them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, urlencode, urlsplit

import pytest

ENV_DSN = "LESSAY_TEST_PG_DSN"
ENV_BIN = "LESSAY_TEST_PG_BIN"  # a directory holding initdb and pg_ctl
SYSTEM_USER = "postgres"  # initdb refuses to run as root: root runs the cluster as this user
START_TIMEOUT = 15.0

MONITOR_ROLE = "lessay_monitor"  # granted pg_read_all_stats, nothing else
PLAIN_ROLE = "lessay_plain"  # no pg_read_all_stats: other roles' sessions are hidden from it
REFUSED_ROLE = "lessay_refused"  # pg_hba.conf rejects it over TCP (private cluster only)

_SERVER_SETTINGS = (
    # speed: nothing here needs to survive a crash
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "shared_buffers=16MB",
    "max_connections=40",
    "password_encryption=scram-sha-256",
    "log_min_messages=warning",
)

# passwords over TCP (so a wrong one is refused for real), trust on the private socket
_HBA = f"""\
# TYPE  DATABASE  USER            ADDRESS         METHOD
local   all       all                             trust
host    all       {REFUSED_ROLE:<15} 127.0.0.1/32    reject
host    all       all             127.0.0.1/32    scram-sha-256
host    all       all             ::1/128         scram-sha-256
"""


@dataclass(frozen=True)
class Role:
    name: str
    password: str


@dataclass(frozen=True)
class PostgresServer:
    """Where the test server is and the roles made on it."""

    host: str
    port: int
    socket_dir: Path | None  # None for a server given by LESSAY_TEST_PG_DSN
    superuser: Role
    monitor: Role
    plain: Role
    refused: Role | None  # a role pg_hba.conf rejects; private cluster only
    database: str = "postgres"

    @property
    def superuser_dsn(self) -> str:
        return self.dsn_for(self.superuser.name, self.superuser.password)

    def dsn_for(
        self,
        user: str,
        password: str | None = None,
        database: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        **params: str,
    ) -> str:
        """A URI DSN for `user` over TCP (or `host`/`port` given), with extra query params."""
        return make_dsn(
            host or self.host, port or self.port, user, password, database or self.database, params
        )

    def socket_dsn(self, user: str, database: str | None = None) -> str:
        """A DSN over the Unix socket, where the private cluster trusts every role."""
        if self.socket_dir is None:
            pytest.skip("the server from LESSAY_TEST_PG_DSN has no known Unix socket")
        query = urlencode({"host": str(self.socket_dir), "port": str(self.port)})
        return f"postgresql://{quote(user, safe='')}@/{quote(database or self.database)}?{query}"


@dataclass(frozen=True)
class PgBouncerServer:
    """A private PgBouncer in transaction pooling mode in front of the test server."""

    host: str
    port: int
    server: PostgresServer

    def dsn_for(self, user: str, password: str | None, database: str | None = None) -> str:
        return make_dsn(self.host, self.port, user, password, database or self.server.database, {})


def make_dsn(
    host: str, port: int, user: str, password: str | None, database: str, params: dict[str, str]
) -> str:
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{userinfo}@{host}:{port}/{quote(database, safe='')}{query}"


def unavailable(reason: str) -> NoReturn:
    """Skip with the reason, or fail under CI=true: CI must never skip these tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, deadline: float, alive: subprocess.Popen[bytes]) -> bool:
    """Poll until `host:port` accepts TCP connections, the process dies, or the deadline."""
    while time.monotonic() < deadline:
        if alive.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


# --- running commands as the cluster's owner ---------------------------------------------


def _as_owner() -> dict[str, object]:
    """subprocess arguments that run a command as the cluster owner.

    Root runs it as the `postgres` system user (initdb and pgbouncer refuse
    root); anyone else runs it as themselves.
    """
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        unavailable(f"running as root, and there is no '{SYSTEM_USER}' user to run the server as")
    return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": []}


def _give_to_owner(path: Path) -> None:
    if _as_owner():  # root: the files go to the user the server runs as
        shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


def _run(args: list[str], cwd: Path, timeout: float = START_TIMEOUT) -> None:
    """Run a setup command; a failure becomes a skip (or a CI failure) with its output."""
    try:
        subprocess.run(
            args, cwd=cwd, capture_output=True, check=True, timeout=timeout, **_as_owner()
        )
    except subprocess.CalledProcessError as error:
        output = (error.stderr or error.stdout or b"").decode(errors="replace").strip()
        unavailable(f"{Path(args[0]).name} failed (exit {error.returncode}): {output[-800:]}")
    except (OSError, subprocess.TimeoutExpired) as error:
        unavailable(f"cannot run {Path(args[0]).name}: {error}")


def pg_bin_dir() -> Path | None:
    """The directory of initdb and pg_ctl: LESSAY_TEST_PG_BIN, Debian's newest, or PATH."""
    if os.environ.get(ENV_BIN):
        return Path(os.environ[ENV_BIN])
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(debian):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


# --- SQL on the server --------------------------------------------------------------------


def run_sql(dsn: str, *statements: str) -> None:
    """Run statements as the superuser (the fixture is synchronous; asyncpg is not)."""

    async def run() -> None:
        import asyncpg

        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _role_statements(role: Role, *grants: str) -> list[str]:
    """Create the role, or reset it on a reused server, so its password is ours."""
    password = _literal(role.password)
    statements = [
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role.name)}) THEN "
        f"CREATE ROLE {role.name} LOGIN; END IF; END $$",
        f"ALTER ROLE {role.name} LOGIN NOSUPERUSER PASSWORD {password}",
        f"REVOKE pg_read_all_stats FROM {role.name}",
    ]
    statements += [f"GRANT {grant} TO {role.name}" for grant in grants]
    return statements


def _make_roles(superuser_dsn: str, with_refused: bool) -> tuple[Role, Role, Role | None]:
    monitor = Role(MONITOR_ROLE, secrets.token_urlsafe(16))
    plain = Role(PLAIN_ROLE, secrets.token_urlsafe(16))
    refused = Role(REFUSED_ROLE, secrets.token_urlsafe(16)) if with_refused else None
    statements = _role_statements(monitor, "pg_read_all_stats") + _role_statements(plain)
    if refused is not None:
        statements += _role_statements(refused)
    run_sql(superuser_dsn, *statements)
    return monitor, plain, refused


# --- the private cluster ------------------------------------------------------------------


def _start_private_cluster(base: Path) -> PostgresServer:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries (initdb) found; install postgresql")
    superuser = Role(SYSTEM_USER, secrets.token_urlsafe(16))
    data = base / "data"
    password_file = base / "superuser.pw"
    password_file.write_text(superuser.password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    for path in (base, password_file):
        _give_to_owner(path)
    _run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={data}",
            f"--username={superuser.name}",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
        cwd=base,
    )
    (data / "pg_hba.conf").write_text(_HBA, encoding="utf-8")
    # a taken port (another test run) is retried on a new one
    for _attempt in range(3):
        port = free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={base}",
                *(f"-c {setting}" for setting in _SERVER_SETTINGS),
            ]
        )
        log = base / "postgres.log"
        result = subprocess.run(
            [
                *(str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log)),
                *("-o", options, "-w", "-t", str(int(START_TIMEOUT))),
            ],
            cwd=base,
            capture_output=True,
            timeout=START_TIMEOUT + 5,
            check=False,
            **_as_owner(),
        )
        if result.returncode == 0:
            break
        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        if "already in use" not in tail:
            unavailable(f"pg_ctl start failed: {result.stderr.decode(errors='replace')} {tail}")
    else:
        unavailable("pg_ctl start failed three times: ports taken")
    server = PostgresServer("127.0.0.1", port, base, superuser, superuser, superuser, None)
    monitor, plain, refused = _make_roles(server.superuser_dsn, with_refused=True)
    return PostgresServer("127.0.0.1", port, base, superuser, monitor, plain, refused)


def _stop_private_cluster(base: Path) -> None:
    bin_dir = pg_bin_dir()
    if bin_dir is not None and (base / "data" / "postmaster.pid").exists():
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "stop", "-D", str(base / "data"), "-m", "immediate", "-w"],
            cwd=base,
            capture_output=True,
            timeout=30,
            check=False,
            **_as_owner(),
        )
    shutil.rmtree(base, ignore_errors=True)


def _given_server(dsn: str) -> PostgresServer:
    """The server of LESSAY_TEST_PG_DSN, with the test roles made on it."""
    parts = urlsplit(dsn)
    if parts.scheme not in {"postgres", "postgresql"} or not parts.hostname:
        unavailable(f"{ENV_DSN} must be a postgresql://user:password@host:port/db URI")
    superuser = Role(parts.username or SYSTEM_USER, parts.password or "")
    database = parts.path.lstrip("/") or "postgres"
    try:
        monitor, plain, _ = _make_roles(dsn, with_refused=False)
    except Exception as error:
        unavailable(f"cannot set up roles on the server of {ENV_DSN}: {error}")
    return PostgresServer(
        parts.hostname, parts.port or 5432, None, superuser, monitor, plain, None, database
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test session (see the module docstring)."""
    if os.environ.get(ENV_DSN):
        yield _given_server(os.environ[ENV_DSN])
        return
    base = Path(tempfile.mkdtemp(prefix="lessay-pg-"))
    try:
        yield _start_private_cluster(base)
    finally:
        _stop_private_cluster(base)


# --- PgBouncer ----------------------------------------------------------------------------

_PGBOUNCER_INI = """\
[databases]
* = host={db_host} port={db_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {base}/userlist.txt
pool_mode = transaction
; fewer server connections than the tests' clients: they share them between transactions
default_pool_size = 2
; idle server connections go soon, so that a later test starts on a quiet server
server_idle_timeout = 1
max_client_conn = 50
log_connections = 0
log_disconnections = 0
logfile = {base}/pgbouncer.log
pidfile = {base}/pgbouncer.pid
"""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (str(p) for p in (Path("/usr/sbin/pgbouncer"),) if p.exists()), None
    )


@pytest.fixture(scope="session")
def pgbouncer_server(postgres_server: PostgresServer) -> Iterator[PgBouncerServer]:
    """A private PgBouncer (pool_mode = transaction) in front of `postgres_server`."""
    binary = pgbouncer_binary()
    if binary is None:
        unavailable("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    base = Path(tempfile.mkdtemp(prefix="lessay-pgbouncer-"))
    _give_to_owner(base)
    server = postgres_server
    users = (server.monitor, server.plain)
    (base / "userlist.txt").write_text(
        "".join(f'"{role.name}" "{role.password}"\n' for role in users), encoding="utf-8"
    )
    process: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        ini = base / "pgbouncer.ini"
        ini.write_text(
            _PGBOUNCER_INI.format(db_host=server.host, db_port=server.port, port=port, base=base),
            encoding="utf-8",
        )
        for path in (ini, base / "userlist.txt"):
            path.chmod(0o600)
            _give_to_owner(path)
        # its output goes to a file, not a pipe nobody reads (which would fill and stall it)
        with (base / "stderr.log").open("wb") as stderr:
            process = subprocess.Popen(
                [binary, str(ini)], cwd=base, stdout=stderr, stderr=stderr, **_as_owner()
            )
        if not wait_for_port("127.0.0.1", port, time.monotonic() + START_TIMEOUT, process):
            detail = " ".join(
                path.read_text(errors="replace")[-600:]
                for path in (base / "pgbouncer.log", base / "stderr.log")
                if path.exists()
            )
            unavailable(f"pgbouncer did not start listening on port {port}: {detail}")
        yield PgBouncerServer("127.0.0.1", port, server)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(base, ignore_errors=True)
