"""The configuration the console runs with on the built-in demo backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lessay_console.config import Config
from lessay_console.config.defaults import BACKUP_SCHEDULE, ESCALATION, THRESHOLDS
from lessay_console.config.model import (
    ApiConfig,
    BackupsConfig,
    EndpointConfig,
    EscalationPath,
    LogSource,
)

if TYPE_CHECKING:
    from lessay_console.demo.backend import DemoBackend


def demo_config(backend: DemoBackend) -> Config:
    """Every source pointed at `backend`; thresholds and schedule from the guide."""
    url = backend.url
    return Config(
        environment="demo",
        api=ApiConfig(health_url=f"{url}/health", metrics_urls=(f"{url}/metrics",)),
        payments=EndpointConfig(url=f"{url}/status/api/v2/summary.json"),
        idp=EndpointConfig(url=f"{url}/idp/.well-known/openid-configuration"),
        logs={service: LogSource(file=path) for service, path in backend.log_paths.items()},
        thresholds=dict(THRESHOLDS),
        escalation={
            team: EscalationPath(contact=f"demo: #{team.lower().replace(' ', '-')} on chat")
            for team in ESCALATION
        },
        backups=BackupsConfig(directory=backend.backup_dir, schedule=dict(BACKUP_SCHEDULE)),
    )
