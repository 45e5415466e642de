"""Every check kind by the name files use for it."""

from __future__ import annotations

from lessay_console.checks import (
    backup_freshness,
    command,
    consistency,
    http_health,
    logs,
    metric,
    network,
    oidc,
    payment_status,
    postgres_activity,
    sql_assert,
)
from lessay_console.checks.model import CheckKind

KINDS: dict[str, CheckKind] = {
    kind.name: kind
    for module in (
        http_health,
        payment_status,
        oidc,
        metric,
        postgres_activity,
        sql_assert,
        consistency,
        logs,
        network,
        backup_freshness,
        command,
    )
    for kind in module.KINDS
}
