"""Fixtures of the backup tests: a real pgBackRest repository, a real PostgreSQL."""

from tests.backups.pgbackrest_cluster import pgbackrest_cluster, standby  # noqa: F401 - fixtures
