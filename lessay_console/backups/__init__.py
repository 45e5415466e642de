"""Backups against the guide's schedule (section 4.1, DESIGN section 9).

`catalog` reads what backups exist (a directory, pgBackRest, WAL-G),
`compliance` judges each kind against its interval and retention,
`replication` watches the payment data's real-time replica, `report` puts
them together for the `backups` command, the dashboard's source and the
`backup_freshness` check, and `candidates` lists what a recovery could start
from.
"""

from lessay_console.backups.candidates import Candidate, last_good_candidates
from lessay_console.backups.catalog import Backup, Catalog, SourceRead, read_catalog
from lessay_console.backups.compliance import KindReport, KindState
from lessay_console.backups.report import BackupsReport, check_backups

__all__ = [
    "Backup",
    "BackupsReport",
    "Candidate",
    "Catalog",
    "KindReport",
    "KindState",
    "SourceRead",
    "check_backups",
    "last_good_candidates",
    "read_catalog",
]
