"""Every check kind by the name files use for it."""

from __future__ import annotations

from lessay_console.checks import command, http, logs, metric, network, postgres
from lessay_console.checks.model import CheckKind

KINDS: dict[str, CheckKind] = {
    kind.name: kind
    for module in (http, metric, postgres, logs, network, command)
    for kind in module.KINDS
}
