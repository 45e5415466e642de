"""The effective configuration as TOML, secrets redacted: what `config check` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lessay_console.config.durations import format_duration
from lessay_console.config.model import BackupsConfig, Config, ThresholdRule, staleness_of
from lessay_console.config.reader import dotted
from lessay_console.config.secrets import Secret
from lessay_console.redaction import redact


def render_config(config: Config) -> str:
    """TOML that loads back to the same configuration (secrets as their references)."""
    return "\n".join(_lines(config)) + "\n"


def _lines(config: Config) -> Iterator[str]:
    yield f"environment = {_value(config.environment)}"
    if config.read_only:
        yield "read_only = true"
    api = config.api
    yield from _table(
        "api",
        health_url=api.health_url,
        metrics_urls=list(api.metrics_urls),
        timeout=_d(api.timeout),
        interval=_d(api.interval),
        verify_tls=api.verify_tls,
        staleness=_d(staleness_of(api)),
    )
    yield from _table(
        "host",
        interval=_d(config.host.interval),
        disks=list(config.host.disks),
        staleness=_d(staleness_of(config.host)),
    )
    yield from _table("metrics", window=_d(config.metrics.window))
    yield from _table("console", refresh=_d(config.console.refresh), bell=config.console.bell)
    if (prom := config.prometheus) is not None:
        yield from _table(
            "prometheus",
            url=prom.url,
            timeout=_d(prom.timeout),
            interval=_d(prom.interval),
            bearer_token=prom.bearer_token,
            verify_tls=prom.verify_tls,
            staleness=_d(staleness_of(prom)),
        )
        if prom.queries:
            yield from _table("prometheus.queries", **prom.queries)
    if (pg := config.postgres) is not None:
        yield from _table(
            "postgres",
            dsn=pg.dsn,
            statement_timeout=_d(pg.statement_timeout),
            timeout=_d(pg.timeout),
            interval=_d(pg.interval),
            staleness=_d(staleness_of(pg)),
        )
    for service, source in config.logs.items():
        yield from _table(
            dotted("logs", service), journald_unit=source.journald_unit, file=source.file
        )
    yield from _table(
        "payments", status_url=config.payments.url, timeout=_d(config.payments.timeout)
    )
    yield from _table("idp", discovery_url=config.idp.url, timeout=_d(config.idp.timeout))
    for metric, levels in config.thresholds.items():
        yield from _table(
            dotted("thresholds", metric),
            warning=_rule(levels.warning),
            critical=_rule(levels.critical),
        )
    for team, path in config.escalation.items():
        contact = path.contact or None
        yield from _table(dotted("escalation", team), contact=contact)
        if contact is None:
            yield "# contact: not configured"
    yield from _consistency(config)
    if config.commands:
        yield from _table("commands", **{k: list(v) for k, v in config.commands.items()})
    yield from _backups(config.backups)


def _backups(backups: BackupsConfig) -> Iterator[str]:
    yield from _table(
        "backups",
        directory=backups.directory,
        interval=_d(backups.interval),
        timeout=_d(backups.timeout),
        replication_max_lag=_d(backups.replication_max_lag),
        replication_expected=backups.replication_expected,
    )
    if backups.directory is not None:
        yield from _table("backups.names", **backups.names)
    if (pgbackrest := backups.pgbackrest) is not None:
        yield from _table(
            "backups.pgbackrest",
            stanza=pgbackrest.stanza,
            command=list(pgbackrest.command),
            config=pgbackrest.config,
            kinds=pgbackrest.kinds,
        )
    if (walg := backups.walg) is not None:
        yield from _table(
            "backups.walg", command=list(walg.command), env_file=walg.env_file, kinds=walg.kinds
        )
    for kind, entry in backups.schedule.items():
        yield from _table(
            dotted("backups", "schedule", kind),
            interval=_d(entry.interval),
            retention=_d(entry.retention),
        )


def _consistency(config: Config) -> Iterator[str]:
    for assertion in config.consistency:
        yield ""
        yield "[[consistency]]"
        for key in ("name", "sql", "at_least", "at_most", "equals"):
            value = getattr(assertion, key)
            if value is not None:
                yield f"{key} = {_value(value)}"
        if assertion.max_age is not None:
            yield f"max_age = {_value(_d(assertion.max_age))}"


def _table(name: str, **values: Any) -> Iterator[str]:
    yield ""
    yield f"[{name}]"
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Secret):
            line = f"{key} = {_value(value.reference)}"
            if value.reference.startswith(("env:", "file:")):
                line += f"  # resolved: {_describe_secret(key, value)}"
            yield redact(line)
        else:
            yield f"{dotted(key)} = {_value(value)}"


def _describe_secret(key: str, secret: Secret) -> str:
    """For a DSN, the value with its password masked (which host, which user);
    for anything else only that it is set, and its length."""
    if key == "dsn":
        masked = redact(secret.reveal())
        if masked != secret.reveal() or "password" not in secret.reveal().lower():
            return masked
    return f"set ({len(secret.reveal())} characters)"


def _rule(rule: ThresholdRule | None) -> Any:
    if rule is None:
        return "off"
    fields: dict[str, Any] = {rule.direction: rule.value}
    if rule.for_seconds:
        fields["for"] = _d(rule.for_seconds)
    if rule.keep_firing_for:
        fields["keep_firing_for"] = _d(rule.keep_firing_for)
    if rule.clear_at is not None:
        fields["clear_below" if rule.direction == "above" else "clear_above"] = rule.clear_at
    return fields


class _Duration(str):
    """A duration, written as a TOML string."""


def _d(seconds: float) -> _Duration:
    return _Duration(format_duration(seconds))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        # a JSON string is a valid TOML basic string (same escapes)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot render {type(value).__name__}")
