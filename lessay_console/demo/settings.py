"""The configuration the console runs with on the built-in demo backend."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from lessay_console.config import Config
from lessay_console.config.defaults import BACKUP_SCHEDULE, ESCALATION, THRESHOLDS
from lessay_console.config.model import (
    ApiConfig,
    BackupsConfig,
    EndpointConfig,
    EscalationPath,
    LogSource,
    MetricThresholds,
    ThresholdRule,
)
from lessay_console.demo.fleet import INITIAL_VERSION

if TYPE_CHECKING:
    from lessay_console.demo.backend import DemoBackend


# Beyond the guide's thresholds, so that every demo scenario turns something
# amber or red within a minute or two (the guide sets none for these).
DEMO_THRESHOLDS = {
    "api_latency_p95": MetricThresholds(
        warning=ThresholdRule("above", 500, for_seconds=60),
        critical=ThresholdRule("above", 1000, for_seconds=120),
    ),
    "payment_success_rate": MetricThresholds(
        critical=ThresholdRule("below", 90, for_seconds=60, clear_at=95),
    ),
    "db_pool_usage": MetricThresholds(warning=ThresholdRule("above", 80, for_seconds=60)),
    "api_health": MetricThresholds(
        warning=ThresholdRule("above", 0), critical=ThresholdRule("above", 1)
    ),
}


def demo_commands(backend: DemoBackend) -> dict[str, tuple[str, ...]]:
    """The site commands the built-in runbooks name, as ``demo-ctl`` runs them on `backend`.

    The runbook engine fills ``{version}`` and ``{percent}``. ``sys.executable -m``
    rather than the ``lessay-console`` script: the same interpreter and package as
    the console, whatever is on PATH.
    """
    base = (sys.executable, "-m", "lessay_console", "demo-ctl", "--url", backend.url)
    backups = str(backend.backup_dir)
    return {
        "deploy": (*base, "deploy", "--version", "{version}", "--percent", "{percent}"),
        # A rollback deploys the version the demo fleet started on to every node.
        "rollback": (*base, "rollback", "--to", INITIAL_VERSION),
        "drain": (*base, "drain"),
        "backup_snapshot": (*base, "backup-snapshot", "--dir", backups),
        "migrate": (*base, "migrate", "--version", "{version}"),
        "smoke_test": (*base, "smoke-test"),
        "traffic": (*base, "traffic", "--percent", "{percent}"),
        # The demo has no staging: this says so and checks the demo backend instead.
        "staging_apply": (*base, "staging-apply"),
        # A simulation: names the backup a restore would start from.
        "restore": (*base, "restore", "--dir", backups, "--backup", "{backup}"),
    }


def demo_config(backend: DemoBackend) -> Config:
    """Every source pointed at `backend`; thresholds and schedule from the guide."""
    url = backend.url
    return Config(
        environment="demo",
        api=ApiConfig(health_url=f"{url}/health", metrics_urls=(f"{url}/metrics",)),
        payments=EndpointConfig(url=f"{url}/status/api/v2/summary.json"),
        idp=EndpointConfig(url=f"{url}/idp/.well-known/openid-configuration"),
        logs={service: LogSource(file=path) for service, path in backend.log_paths.items()},
        thresholds={**THRESHOLDS, **DEMO_THRESHOLDS},
        escalation={
            team: EscalationPath(contact=f"demo: #{team.lower().replace(' ', '-')} on chat")
            for team in ESCALATION
        },
        backups=BackupsConfig(directory=backend.backup_dir, schedule=dict(BACKUP_SCHEDULE)),
        commands=demo_commands(backend),
    )
