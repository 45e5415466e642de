"""Fixtures of the checks' tests: sessions of their own on the real PostgreSQL."""

from tests.postgres_sessions import monitor_dsn, sessions  # noqa: F401 - fixtures
