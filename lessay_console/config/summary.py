"""What the console is pointed at, as rows an operator can scan: one per source."""

from __future__ import annotations

from dataclasses import dataclass

from lessay_console.config.model import Config
from lessay_console.redaction import redact


@dataclass(frozen=True)
class SourceRow:
    name: str
    target: str  # where, credentials masked; "not configured" when absent
    configured: bool


def source_rows(config: Config) -> list[SourceRow]:
    rows = [
        _row("API health", config.api.health_url),
        _row("Metrics", ", ".join(config.api.metrics_urls) or None),
        _row("Prometheus", config.prometheus.url if config.prometheus else None),
        _row("PostgreSQL", config.postgres.dsn.display() if config.postgres else None),
        _row("Payment provider", config.payments.url),
        _row("Identity provider", config.idp.url),
        _row("Host", "this machine: " + ", ".join(config.host.disks)),
    ]
    for service, source in config.logs.items():
        where = (
            f"journald unit {source.journald_unit}" if source.journald_unit else str(source.file)
        )
        rows.append(_row(f"Logs ({service})", where))
    rows.append(
        _row("Backups", str(config.backups.directory) if config.backups.directory else None)
    )
    return rows


def _row(name: str, target: str | None) -> SourceRow:
    if target is None:
        return SourceRow(name, "not configured", configured=False)
    return SourceRow(name, redact(target), configured=True)
