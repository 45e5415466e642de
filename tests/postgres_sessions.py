"""Sessions of our own on the real PostgreSQL, for the source's tests and the checks' tests.

The fixtures reach the tests through `tests/checks/conftest.py` and
`tests/sources/conftest.py`. Every session is named TEST_APP, so a test can
tell its own from the console's, and is ended at the test's teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from tests.postgres_server import PostgresServer

TEST_APP = "lessay-test"  # the application_name of every session the tests open

OpenSession = Callable[..., Awaitable[asyncpg.Connection]]


@pytest.fixture
async def sessions(postgres_server: PostgresServer) -> AsyncIterator[OpenSession]:
    """Open test sessions (as the superuser unless a DSN is given), ended at teardown."""
    opened: list[asyncpg.Connection] = []

    async def open_session(dsn: str | None = None) -> asyncpg.Connection:
        connection = await asyncpg.connect(
            dsn or postgres_server.superuser_dsn,
            timeout=10,
            server_settings={"application_name": TEST_APP},
        )
        opened.append(connection)
        return connection

    yield open_session
    for connection in opened:
        connection.terminate()


@pytest.fixture
def monitor_dsn(postgres_server: PostgresServer) -> str:
    """The role the console is meant to use: pg_read_all_stats and nothing else."""
    return postgres_server.dsn_for(postgres_server.monitor.name, postgres_server.monitor.password)
