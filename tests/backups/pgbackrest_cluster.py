"""A real pgBackRest repository of a real private PostgreSQL 15 cluster, for the catalog's tests.

`pgbackrest_cluster` (session-scoped) makes a cluster with `initdb` in a
temporary directory, archiving its WAL with `pgbackrest archive-push`; writes a
pgbackrest.conf whose repository is in that directory; runs `stanza-create`,
then a real full and a real incremental backup. As root, every command runs as
the `postgres` user, as `tests.postgres_server` runs its cluster. It also starts
a streaming standby (`pg_basebackup -R`) for the replication tests.

Where pgbackrest or the server binaries are missing the tests skip with the
reason; under CI=true they fail instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.postgres_server import (
    START_TIMEOUT,
    _as_owner,
    _give_to_owner,
    _run,
    free_port,
    pg_bin_dir,
    run_sql,
    unavailable,
)

STANZA = "lessay"
PLAIN_ROLE = "lessay_plain"  # made on the cluster without pg_read_all_stats
BACKUP_TIMEOUT = 120.0

_CONF = """\
[global]
repo1-path={base}/repo
log-path={base}/log
lock-path={base}/lock
spool-path={base}/spool
log-level-console=warn
log-level-file=off
start-fast=y
archive-timeout=60

[{stanza}]
pg1-path={base}/data
pg1-port={port}
pg1-socket-path={base}
pg1-user=postgres
"""


@dataclass(frozen=True)
class PgBackRestCluster:
    base: Path
    config: Path  # the pgbackrest.conf
    stanza: str
    port: int
    standby_port: int

    def socket_dsn(self, port: int | None = None) -> str:
        query = urlencode({"host": str(self.base), "port": str(port or self.port)})
        return f"postgresql://postgres@/postgres?{query}"

    def pgbackrest(self, *args: str) -> None:
        _run(
            ["pgbackrest", f"--config={self.config}", f"--stanza={self.stanza}", *args],
            cwd=self.base,
            timeout=BACKUP_TIMEOUT,
        )


def pgbackrest_binary() -> str | None:
    return shutil.which("pgbackrest")


def _pg_ctl(bin_dir: Path, data: Path, log: Path, options: list[str]) -> None:
    _run(
        [
            *(str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log)),
            *("-o", " ".join(options), "-w", "-t", str(int(START_TIMEOUT))),
        ],
        cwd=data.parent,
        timeout=START_TIMEOUT + 5,
    )


def _stop(bin_dir: Path, data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"],
            capture_output=True,
            timeout=30,
            check=False,
            **_as_owner(),
        )


def _server_options(base: Path, port: int, *extra: str) -> list[str]:
    return [
        "-c listen_addresses=''",
        f"-c port={port}",
        f"-c unix_socket_directories={base}",
        "-c fsync=off",
        "-c full_page_writes=off",
        "-c shared_buffers=16MB",
        "-c log_min_messages=warning",
        *extra,
    ]


@pytest.fixture(scope="session")
def pgbackrest_cluster() -> Iterator[PgBackRestCluster]:
    if pgbackrest_binary() is None:
        unavailable("pgbackrest is not installed (Debian: apt-get install pgbackrest)")
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries (initdb) found; install postgresql")
    base = Path(tempfile.mkdtemp(prefix="lessay-pgbackrest-"))
    try:
        yield _make(base, bin_dir)
    finally:
        _stop(bin_dir, base / "standby")
        _stop(bin_dir, base / "data")
        shutil.rmtree(base, ignore_errors=True)


def _make(base: Path, bin_dir: Path) -> PgBackRestCluster:
    _give_to_owner(base)
    port, standby_port = free_port(), free_port()
    config = base / "pgbackrest.conf"
    config.write_text(_CONF.format(base=base, stanza=STANZA, port=port), encoding="utf-8")
    _give_to_owner(config)
    _run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={base / 'data'}",
            "--username=postgres",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
        cwd=base,
    )
    archive = f"pgbackrest --config={config} --stanza={STANZA} archive-push %p"
    with (base / "data" / "postgresql.conf").open("a", encoding="utf-8") as settings:
        settings.write(f"archive_mode = on\narchive_command = '{archive}'\nwal_level = replica\n")
    _pg_ctl(bin_dir, base / "data", base / "postgres.log", _server_options(base, port))
    cluster = PgBackRestCluster(base, config, STANZA, port, standby_port)
    cluster.pgbackrest("stanza-create")
    cluster.pgbackrest("backup", "--type=full")
    cluster.pgbackrest("backup", "--type=incr")
    return cluster


@pytest.fixture(scope="session")
def standby(pgbackrest_cluster: PgBackRestCluster) -> PgBackRestCluster:
    """A streaming standby of the cluster (application_name `lessay_dr`), started once."""
    bin_dir = pg_bin_dir()
    assert bin_dir is not None
    cluster = pgbackrest_cluster
    data = cluster.base / "standby"
    _run(
        [
            str(bin_dir / "pg_basebackup"),
            f"--pgdata={data}",
            f"--host={cluster.base}",
            f"--port={cluster.port}",
            "--username=postgres",
            "--write-recovery-conf",
            "--checkpoint=fast",
            "--no-sync",
        ],
        cwd=cluster.base,
        timeout=BACKUP_TIMEOUT,
    )
    _pg_ctl(
        bin_dir,
        data,
        cluster.base / "standby.log",
        _server_options(
            cluster.base, cluster.standby_port, "-c cluster_name=lessay_dr", "-c archive_mode=off"
        ),
    )
    run_sql(cluster.socket_dsn(), f"CREATE ROLE {PLAIN_ROLE} LOGIN")
    return cluster
