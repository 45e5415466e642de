"""From a parsed TOML document to a `Config`: one function per section."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import Any

from lessay_console.catalog import METRICS
from lessay_console.config import defaults
from lessay_console.config.model import (
    ApiConfig,
    BackupsConfig,
    Config,
    ConsistencyAssertion,
    ConsoleConfig,
    EndpointConfig,
    EscalationPath,
    HostConfig,
    LogSource,
    MetricsConfig,
    MetricThresholds,
    PgBackRestCatalog,
    PostgresConfig,
    PrometheusConfig,
    ThresholdRule,
    WalgCatalog,
)
from lessay_console.config.reader import TableReader


def read_config(root: TableReader) -> Config:
    """The whole configuration; problems are collected in `root.problems`."""
    environment = root.string("environment", "production", required=False)
    if not environment.strip():
        root.problem("environment", "must not be empty")
        environment = "production"
    config = Config(
        environment=environment,
        api=_api(root.table("api")),
        host=_host(root.table("host")),
        metrics=_metrics(root.table("metrics")),
        console=_console(root.table("console")),
        prometheus=_prometheus(root.table("prometheus")),
        postgres=_postgres(root.table("postgres")),
        logs=_logs(root.table("logs")),
        payments=_endpoint(root.table("payments"), "status_url"),
        idp=_endpoint(root.table("idp"), "discovery_url"),
        thresholds=_thresholds(root.table("thresholds")),
        escalation=_escalation(root.table("escalation")),
        backups=_backups(root.table("backups")),
        commands=_commands(root.table("commands")),
        consistency=_consistency(root),
        read_only=root.boolean("read_only", False),
    )
    if config.backups.replication_expected and config.postgres is None:
        root.problems.add(
            ("backups", "replication_expected"),
            "needs [postgres] dsn: replication is checked in pg_stat_replication",
        )
    root.finish()
    return config


def _api(t: TableReader | None) -> ApiConfig:
    if t is None:
        return ApiConfig()
    api = ApiConfig(
        health_url=t.url("health_url"),
        metrics_urls=t.url_list("metrics_urls"),
        timeout=t.duration("timeout", ApiConfig.timeout, minimum=0.001),
        interval=t.duration("interval", ApiConfig.interval, minimum=0.1),
        verify_tls=t.boolean("verify_tls", True),
        staleness=t.duration("staleness", None, minimum=0.1),
    )
    t.finish()
    return api


def _host(t: TableReader | None) -> HostConfig:
    if t is None:
        return HostConfig()
    disks = t.string_list("disks") or HostConfig.disks
    for disk in disks:
        if not disk.startswith("/"):
            t.problem("disks", f'{disk!r} is not an absolute mount point such as "/" or "/var"')
    host = HostConfig(
        interval=t.duration("interval", HostConfig.interval, minimum=0.1),
        disks=disks,
        staleness=t.duration("staleness", None, minimum=0.1),
    )
    t.finish()
    return host


def _console(t: TableReader | None) -> ConsoleConfig:
    if t is None:
        return ConsoleConfig()
    console = ConsoleConfig(
        refresh=t.duration("refresh", ConsoleConfig.refresh, minimum=0.1),
        bell=t.boolean("bell", ConsoleConfig.bell),
    )
    t.finish()
    return console


def _metrics(t: TableReader | None) -> MetricsConfig:
    if t is None:
        return MetricsConfig()
    metrics = MetricsConfig(window=t.duration("window", MetricsConfig.window, minimum=1.0))
    t.finish()
    return metrics


def _prometheus(t: TableReader | None) -> PrometheusConfig | None:
    if t is None:
        return None
    url = t.url("url", required=True)
    prometheus = PrometheusConfig(
        url=url or "",
        timeout=t.duration("timeout", 5.0, minimum=0.001),
        interval=t.duration("interval", 15.0, minimum=1.0),
        bearer_token=t.secret("bearer_token", literal_ok=False),
        verify_tls=t.boolean("verify_tls", True),
        staleness=t.duration("staleness", None, minimum=0.1),
        queries=_queries(t.table("queries")),
    )
    t.finish()
    return prometheus if url else None


def _queries(t: TableReader | None) -> dict[str, str]:
    """[prometheus.queries]: metric = "PromQL", for a deployment whose series differ."""
    if t is None:
        return {}
    queries = {}
    for metric in list(t.data):
        if metric not in METRICS:
            hint = difflib.get_close_matches(metric, METRICS, n=1)
            t.string(metric)
            t.problem(metric, "no such metric" + (f"; did you mean {hint[0]!r}?" if hint else ""))
            continue
        query = t.string(metric, required=True)
        if query:
            queries[metric] = query
    return queries


def _postgres(t: TableReader | None) -> PostgresConfig | None:
    if t is None:
        return None
    dsn = t.secret("dsn", required=True)
    postgres = PostgresConfig(
        dsn=dsn,  # type: ignore[arg-type]  # None only when a problem was recorded
        statement_timeout=t.duration("statement_timeout", 2.0, minimum=0.001),
        timeout=t.duration("timeout", 5.0, minimum=0.001),
        interval=t.duration("interval", 5.0, minimum=0.1),
        staleness=t.duration("staleness", None, minimum=0.1),
    )
    t.finish()
    return postgres if dsn else None


def _logs(t: TableReader | None) -> dict[str, LogSource]:
    if t is None:
        return {}
    sources = {}
    for service, source in t.subtables():
        unit, path = source.string("journald_unit"), source.path("file")
        if (unit is None) == (path is None):
            source.problem(None, 'give exactly one of journald_unit = "UNIT" or file = "PATH"')
        sources[service] = LogSource(journald_unit=unit, file=path)
        source.finish()
    return sources


def _endpoint(t: TableReader | None, url_key: str) -> EndpointConfig:
    if t is None:
        return EndpointConfig()
    endpoint = EndpointConfig(url=t.url(url_key), timeout=t.duration("timeout", 5.0, minimum=0.001))
    t.finish()
    return endpoint


def _thresholds(t: TableReader | None) -> dict[str, MetricThresholds]:
    merged = dict(defaults.THRESHOLDS)
    if t is None:
        return merged
    for metric, table in t.subtables():
        if metric not in METRICS:
            hint = difflib.get_close_matches(metric, METRICS, n=1)
            advice = f"did you mean {hint[0]!r}?" if hint else "known: " + ", ".join(METRICS)
            t.problem(metric, f"no such metric; {advice}")
            continue
        base = merged.get(metric, MetricThresholds())
        unit = METRICS[metric].unit
        warning = _rule(table, "warning", base.warning, unit)
        critical = _rule(table, "critical", base.critical, unit)
        table.finish()
        _check_order(table, warning, critical)
        merged[metric] = MetricThresholds(warning=warning, critical=critical)
    return merged


def _rule(t: TableReader, key: str, default: ThresholdRule | None, unit: str) -> Any:
    """`warning = { above = 80, for = "5m" }`, or `"off"` to drop the guide's default."""
    if t.has(key) and t.data[key] == "off":
        t.string(key)
        return None
    table = t.table(key)
    if table is None:
        return default
    maximum = 100.0 if unit == "%" else None
    has_above, has_below = table.has("above"), table.has("below")
    above = table.number("above", minimum=0, maximum=maximum)
    below = table.number("below", minimum=0, maximum=maximum)
    if has_above and has_below:
        table.problem(None, "give either above or below, not both")
    elif not has_above and not has_below:
        table.problem(None, "needs above = N or below = N")
    direction = "below" if has_below and not has_above else "above"
    value = below if direction == "below" else above
    clear_key = "clear_below" if direction == "above" else "clear_above"
    wrong_clear = "clear_above" if direction == "above" else "clear_below"
    if table.has(wrong_clear):
        table.problem(
            wrong_clear, f"does not fit a rule that fires {direction} a value; use {clear_key}"
        )
    table.number(wrong_clear)
    clear_at = table.number(clear_key, minimum=0, maximum=maximum)
    if clear_at is not None and value is not None:
        past = clear_at > value if direction == "above" else clear_at < value
        if past:
            table.problem(
                clear_key,
                f"{clear_at:g} must be on the safe side of {value:g} (recovery hysteresis)",
            )
            clear_at = None
    rule = ThresholdRule(
        direction=direction,
        value=value if value is not None else 0.0,
        for_seconds=table.duration("for", 0.0),
        keep_firing_for=table.duration("keep_firing_for", 0.0),
        clear_at=clear_at,
    )
    table.finish()
    return rule if value is not None else default


def _check_order(
    t: TableReader, warning: ThresholdRule | None, critical: ThresholdRule | None
) -> None:
    if warning is None or critical is None:
        return
    if warning.direction != critical.direction:
        t.problem(None, "warning and critical must both be `above` or both `below`")
    elif (
        (critical.value < warning.value)
        if warning.direction == "above"
        else (critical.value > warning.value)
    ):
        t.problem(
            "critical",
            f"{critical.value:g} is less severe than warning {warning.value:g}; "
            "set both levels so that critical is the worse one",
        )


def _escalation(t: TableReader | None) -> dict[str, EscalationPath]:
    paths = dict(defaults.ESCALATION)
    if t is None:
        return paths
    for team, table in t.subtables():
        paths[team] = EscalationPath(contact=table.string("contact", "") or "")
        table.finish()
    return paths


def _backups(t: TableReader | None) -> BackupsConfig:
    schedule = dict(defaults.BACKUP_SCHEDULE)
    if t is None:
        return BackupsConfig(schedule=schedule)
    directory = t.path("directory")
    table = t.table("schedule") or TableReader({}, (), t.problems)
    for kind, entry in table.subtables():
        if kind not in schedule:
            table.problem(kind, "no such backup kind; known: " + ", ".join(schedule))
            continue
        base = schedule[kind]
        interval = entry.duration("interval", base.interval, minimum=1.0)
        retention = entry.duration("retention", base.retention, minimum=1.0)
        if retention < interval:
            entry.problem("retention", "is shorter than the interval: no backup would be kept")
        schedule[kind] = replace(base, interval=interval, retention=retention)
        entry.finish()
    backups = BackupsConfig(
        directory=directory,
        schedule=schedule,
        names=_backup_names(t.table("names"), schedule),
        pgbackrest=_pgbackrest(t.table("pgbackrest"), schedule),
        walg=_walg(t.table("walg"), schedule),
        interval=t.duration("interval", BackupsConfig.interval, minimum=1.0),
        timeout=t.duration("timeout", BackupsConfig.timeout, minimum=0.1),
        replication_max_lag=t.duration(
            "replication_max_lag", BackupsConfig.replication_max_lag, minimum=0.0
        ),
        replication_expected=t.boolean("replication_expected", False),
    )
    t.finish()
    return backups


def _backup_names(t: TableReader | None, schedule: dict[str, Any]) -> dict[str, str]:
    """[backups.names]: kind = "regex", the directory's naming rule (replacing the embedded one)."""
    if t is None:
        return dict(defaults.BACKUP_NAMES)
    if not t.data:
        t.problem(None, "is empty: no file would be a backup; remove it for the embedded rule")
    names = {}
    for kind in list(t.data):
        pattern = t.string(kind, required=True)
        if kind not in schedule:
            t.problem(kind, "no such backup kind; known: " + ", ".join(schedule))
        elif pattern:
            try:
                re.compile(pattern)
            except re.error as error:
                t.problem(kind, f"is not a regular expression: {error}")
            else:
                names[kind] = pattern
    return names


def _catalog_command(t: TableReader, default: tuple[str, ...]) -> tuple[str, ...]:
    if not t.has("command"):
        return default
    argv = t.string_list("command")
    if not argv or not argv[0].strip():
        example = ", ".join(f'"{arg}"' for arg in default)
        t.problem("command", f"must be a non-empty argv list such as [{example}]")
        return default
    return argv


def _backup_kinds(
    t: TableReader | None, default: dict[str, str], schedule: dict[str, Any]
) -> dict[str, str]:
    """`kinds = { full = "db_full", ... }`: which schedule kind each backup type counts as."""
    kinds = dict(default)
    if t is None:
        return kinds
    for backup_type in list(t.data):
        kind = t.string(backup_type, required=True)
        if backup_type not in default:
            t.problem(backup_type, "no such backup type; known: " + ", ".join(default))
        elif kind is not None and kind not in schedule:
            t.problem(backup_type, f"{kind!r} is no backup kind; known: " + ", ".join(schedule))
        elif kind is not None:
            kinds[backup_type] = kind
    return kinds


def _pgbackrest(t: TableReader | None, schedule: dict[str, Any]) -> PgBackRestCatalog | None:
    if t is None:
        return None
    catalog = PgBackRestCatalog(
        stanza=t.string("stanza", PgBackRestCatalog.stanza, required=False),
        command=_catalog_command(t, PgBackRestCatalog.command),
        config=t.path("config"),
        kinds=_backup_kinds(t.table("kinds"), defaults.PGBACKREST_KINDS, schedule),
    )
    if not catalog.stanza.strip():
        t.problem("stanza", "must not be empty")
    t.finish()
    return catalog


def _walg(t: TableReader | None, schedule: dict[str, Any]) -> WalgCatalog | None:
    if t is None:
        return None
    catalog = WalgCatalog(
        command=_catalog_command(t, WalgCatalog.command),
        env_file=t.path("env_file"),
        kinds=_backup_kinds(t.table("kinds"), defaults.WALG_KINDS, schedule),
    )
    t.finish()
    return catalog


def _commands(t: TableReader | None) -> dict[str, tuple[str, ...]]:
    """[commands]: name = ["argv", "{param}"], the site's way of doing what runbooks name."""
    if t is None:
        return {}
    commands = {}
    for name in list(t.data):
        argv = t.string_list(name)
        if not argv or not argv[0].strip():
            t.problem(name, 'must be a non-empty argv list such as ["deployctl", "{version}"]')
            continue
        commands[name] = argv
    return commands


def _consistency(root: TableReader) -> tuple[ConsistencyAssertion, ...]:
    """[[consistency]]: name, sql (one read-only statement), and what its value must be."""
    from lessay_console.checks.postgres_sql import UnsafeQuery, one_statement

    assertions = []
    for t in root.tables("consistency", what="[[consistency]]", required=False):
        name = t.string("name", "", required=True)
        sql = t.string("sql", "", required=True)
        if sql:
            try:
                one_statement(sql)
            except UnsafeQuery as error:
                t.problem("sql", f"{error}; write one read-only SELECT")
        assertion = ConsistencyAssertion(
            name=name,
            sql=sql,
            at_least=t.number("at_least"),
            at_most=t.number("at_most"),
            equals=t.string("equals"),
            max_age=t.duration("max_age", None, minimum=1.0),
        )
        expectations = (assertion.at_least, assertion.at_most, assertion.equals, assertion.max_age)
        if all(e is None for e in expectations):
            t.problem(None, "needs at least one of at_least, at_most, equals, max_age")
        t.finish()
        assertions.append(assertion)
    return tuple(assertions)
