"""Defaults taken from the maintenance guide, each beside the line it implements.

Where the guide gives one level without a severity, the choice is explained.
"""

from __future__ import annotations

from lessay_console.config.model import BackupKind, EscalationPath, MetricThresholds, ThresholdRule
from lessay_console.demo.backups import BACKUP_PATTERNS

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

# Guide 1.2, Alert Thresholds.
THRESHOLDS: dict[str, MetricThresholds] = {
    # "CPU Usage: >80% for 5m (warning), >90% for 5m (critical)"
    "cpu": MetricThresholds(
        warning=ThresholdRule("above", 80, for_seconds=5 * MINUTE),
        critical=ThresholdRule("above", 90, for_seconds=5 * MINUTE),
    ),
    # "Memory Usage: >85% (warning), >95% (critical)"
    "memory": MetricThresholds(
        warning=ThresholdRule("above", 85),
        critical=ThresholdRule("above", 95),
    ),
    # "Disk Space: >75% used": an early warning, room is left to act.
    "disk": MetricThresholds(warning=ThresholdRule("above", 75)),
    # "API Error Rate: >5% for 10m": one in twenty requests failing for ten
    # minutes is user-visible; it pages.
    "api_error_rate": MetricThresholds(critical=ThresholdRule("above", 5, for_seconds=10 * MINUTE)),
    # "Database Latency: >500ms p95": a degradation to look at, not yet an outage.
    "db_latency_p95": MetricThresholds(warning=ThresholdRule("above", 500)),
    # Guide 4.1: the worst backup kind against its schedule (0 ok, 1 warn, 2 crit). Its
    # state is already judged over intervals, so it alerts at once, with no "for".
    "backups": MetricThresholds(
        warning=ThresholdRule("above", 0), critical=ThresholdRule("above", 1)
    ),
}

# Guide 2.1, Escalation Path column. Contacts are the site's to fill in.
ESCALATION: dict[str, EscalationPath] = {
    "Senior Engineer": EscalationPath(),
    "Payment Team": EscalationPath(),
    "Auth Team": EscalationPath(),
}

# Guide 4.1, Backup Schedule. The configuration export's retention is not in
# the guide; eight weekly exports cover two months of changes.
BACKUP_SCHEDULE: dict[str, BackupKind] = {
    "db_hourly": BackupKind(interval=HOUR, retention=7 * DAY),  # hourly snapshots, 7 days
    "db_full": BackupKind(interval=DAY, retention=30 * DAY),  # daily full, 30 days
    "files_incremental": BackupKind(interval=DAY, retention=14 * DAY),  # user files, 14 days
    "config_export": BackupKind(interval=7 * DAY, retention=56 * DAY),  # weekly exports
}

# The directory catalog's embedded naming rule: the demo backend's (demo/backups.py),
# each of its file kinds under the schedule kind it is a backup of.
_DEMO_KINDS = {
    "db-hourly": "db_hourly",
    "db-full": "db_full",
    "files-incr": "files_incremental",
    "config": "config_export",
}
BACKUP_NAMES: dict[str, str] = {
    _DEMO_KINDS[name]: pattern.pattern for name, pattern in BACKUP_PATTERNS.items()
}

# pgBackRest's backup types: a full backup is the daily full; differential and
# incremental backups are what a site takes between fulls, the hourly snapshots.
PGBACKREST_KINDS: dict[str, str] = {"full": "db_full", "diff": "db_hourly", "incr": "db_hourly"}
# WAL-G's: a backup named base_..._D_... is a delta (incremental) on an earlier one.
WALG_KINDS: dict[str, str] = {"full": "db_full", "delta": "db_hourly"}
