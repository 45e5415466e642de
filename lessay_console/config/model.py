"""The configuration as typed, validated values. See DESIGN section 3."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lessay_console.config.secrets import Secret


@dataclass(frozen=True)
class ThresholdRule:
    """One severity of one metric: `above`/`below` a value, held for `for_seconds`."""

    direction: Literal["above", "below"]
    value: float
    for_seconds: float = 0.0
    keep_firing_for: float = 0.0
    # recovery hysteresis: once firing, clear only past this value
    clear_at: float | None = None


@dataclass(frozen=True)
class MetricThresholds:
    warning: ThresholdRule | None = None
    critical: ThresholdRule | None = None


@dataclass(frozen=True)
class ApiConfig:
    health_url: str | None = None
    metrics_urls: tuple[str, ...] = ()
    timeout: float = 2.0
    interval: float = 5.0
    verify_tls: bool = True
    staleness: float | None = None  # None: 3 x interval (DESIGN section 6)


@dataclass(frozen=True)
class HostConfig:
    interval: float = 2.0
    disks: tuple[str, ...] = ("/",)
    staleness: float | None = None


@dataclass(frozen=True)
class PrometheusConfig:
    url: str
    timeout: float = 5.0
    interval: float = 15.0
    bearer_token: Secret | None = None
    verify_tls: bool = True
    staleness: float | None = None
    # metric name -> PromQL, replacing the built-in query for that metric
    queries: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostgresConfig:
    dsn: Secret
    statement_timeout: float = 2.0
    timeout: float = 5.0
    interval: float = 5.0
    staleness: float | None = None


@dataclass(frozen=True)
class ConsoleConfig:
    """The TUI: how often it redraws, and whether a new critical rings the bell."""

    refresh: float = 1.0
    bell: bool = False


@dataclass(frozen=True)
class MetricsConfig:
    """How metrics are computed: the window of rates and percentiles."""

    window: float = 300.0  # DESIGN section 5: default 5m


def staleness_of(source: ApiConfig | HostConfig | PrometheusConfig | PostgresConfig) -> float:
    """The staleness window of a source: configured, or 3 x its interval."""
    return source.staleness if source.staleness is not None else 3 * source.interval


@dataclass(frozen=True)
class LogSource:
    """Where one service's logs are: a journald unit or a file."""

    journald_unit: str | None = None
    file: Path | None = None


@dataclass(frozen=True)
class EscalationPath:
    contact: str = ""


@dataclass(frozen=True)
class BackupKind:
    """One line of the guide's backup schedule: how often, and how long kept."""

    interval: float
    retention: float


def _guide_schedule() -> dict[str, BackupKind]:
    from lessay_console.config.defaults import BACKUP_SCHEDULE  # defaults build on this module

    return dict(BACKUP_SCHEDULE)


def _guide_thresholds() -> dict[str, MetricThresholds]:
    from lessay_console.config.defaults import THRESHOLDS

    return dict(THRESHOLDS)


def _guide_escalation() -> dict[str, EscalationPath]:
    from lessay_console.config.defaults import ESCALATION

    return dict(ESCALATION)


def _embedded_naming_rule() -> dict[str, str]:
    from lessay_console.config.defaults import BACKUP_NAMES

    return dict(BACKUP_NAMES)


def _pgbackrest_kinds() -> dict[str, str]:
    from lessay_console.config.defaults import PGBACKREST_KINDS

    return dict(PGBACKREST_KINDS)


def _walg_kinds() -> dict[str, str]:
    from lessay_console.config.defaults import WALG_KINDS

    return dict(WALG_KINDS)


@dataclass(frozen=True)
class PgBackRestCatalog:
    """`pgbackrest info --output=json` as a backup catalog."""

    stanza: str = "main"
    command: tuple[str, ...] = ("pgbackrest",)
    config: Path | None = None  # passed as --config; None: pgBackRest's own default
    # pgBackRest backup type (full, diff, incr) -> schedule kind
    kinds: dict[str, str] = field(default_factory=_pgbackrest_kinds)


@dataclass(frozen=True)
class WalgCatalog:
    """`wal-g backup-list --json --detail` as a backup catalog."""

    command: tuple[str, ...] = ("wal-g",)
    env_file: Path | None = None  # KEY=VALUE lines added to WAL-G's environment (storage, keys)
    # WAL-G backup type (full, delta) -> schedule kind
    kinds: dict[str, str] = field(default_factory=_walg_kinds)


@dataclass(frozen=True)
class BackupsConfig:
    directory: Path | None = None
    schedule: dict[str, BackupKind] = field(default_factory=_guide_schedule)
    # the directory's naming rule: schedule kind -> regular expression of its file names
    names: dict[str, str] = field(default_factory=_embedded_naming_rule)
    pgbackrest: PgBackRestCatalog | None = None
    walg: WalgCatalog | None = None
    interval: float = 300.0  # how often the dashboard reads the catalog
    timeout: float = 60.0  # a catalog command is killed after this long
    # guide 4.1, payment data replicated in real time: pg_stat_replication's replay lag
    replication_max_lag: float = 30.0
    replication_expected: bool = False  # no replica streaming is a warning only when true

    @property
    def has_catalog(self) -> bool:
        """Whether any catalog source is configured."""
        return self.directory is not None or self.pgbackrest is not None or self.walg is not None


@dataclass(frozen=True)
class EndpointConfig:
    """A third-party endpoint the checks call: payment provider status, identity provider."""

    url: str | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class ConsistencyAssertion:
    """A read-only SQL assertion the recovery runbook's "Verify data consistency" runs:
    its first row's first column judged (a row count, the latest timestamp)."""

    name: str
    sql: str
    at_least: float | None = None
    at_most: float | None = None
    equals: str | None = None
    max_age: float | None = None


@dataclass(frozen=True)
class Config:
    environment: str = "production"
    api: ApiConfig = ApiConfig()
    host: HostConfig = HostConfig()
    metrics: MetricsConfig = MetricsConfig()
    console: ConsoleConfig = ConsoleConfig()
    prometheus: PrometheusConfig | None = None
    postgres: PostgresConfig | None = None
    logs: dict[str, LogSource] = field(default_factory=dict)
    payments: EndpointConfig = EndpointConfig()
    idp: EndpointConfig = EndpointConfig()
    # a bare Config() is the guide's: thresholds, escalation paths, backup schedule
    thresholds: dict[str, MetricThresholds] = field(default_factory=_guide_thresholds)
    escalation: dict[str, EscalationPath] = field(default_factory=_guide_escalation)
    backups: BackupsConfig = field(default_factory=BackupsConfig)
    # what a restored database must satisfy ([[consistency]])
    consistency: tuple[ConsistencyAssertion, ...] = ()
    # site commands the runbooks name: deploy = ["deployctl", "--version", "{version}", ...]
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # this environment is followed, never acted on: as --read-only (DESIGN section 2)
    read_only: bool = False
    # the file this came from; None for built-in defaults
    source: Path | None = None
