"""`wal-g backup-list --json --detail` as a backup catalog.

WAL-G prints a JSON array, one object per backup: its storage listing
(`backup_name`, `time` the storage's modification time, `wal_file_name`,
`storage_name`) merged with the backup's metadata (`start_time`, `finish_time`,
`date_fmt`, `hostname`, `data_dir`, `pg_version`, `start_lsn`, `finish_lsn`,
`is_permanent`, `system_identifier`, `uncompressed_size`, `compressed_size`,
`user_data`). Times are Go's RFC 3339 with up to nine fraction digits. With no
backup at all it prints nothing on stdout and "No backups found" in its log.

A name with `_D_` (base_..._D_...) is a delta on an earlier backup: by
default the hourly snapshot, a full backup the daily full (`[backups.walg]
kinds`). WAL-G lists a backup only once its sentinel is written, so every
listed backup finished; the finish is `finish_time`, or the storage time for
a backup whose metadata has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lessay_console.backups.catalog import Backup, SourceRead, failed, listed
from lessay_console.backups.tools import (
    ToolFailure,
    environment_with,
    json_document,
    read_env_file,
    run_tool,
)
from lessay_console.config.model import WalgCatalog

SOURCE = "wal-g"
_NONE_FOUND = "No backups found"
# Go's time.Time JSON: 2024-03-04T10:15:07.123456789Z or ...+03:00
_GO_TIME = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)


def walg_argv(catalog: WalgCatalog) -> list[str]:
    return [*catalog.command, "backup-list", "--json", "--detail"]


async def read_walg(catalog: WalgCatalog, limit: float) -> SourceRead:
    """Run `wal-g backup-list --json --detail` and read its answer."""
    kinds = set(catalog.kinds.values())
    try:
        extra = read_env_file(catalog.env_file) if catalog.env_file is not None else {}
        output = await run_tool(walg_argv(catalog), timeout=limit, env=environment_with(extra))
        if _NONE_FOUND in output and not output.lstrip().startswith("["):
            return listed(SOURCE, kinds, ())
        document = json_document(output, "wal-g")
    except ToolFailure as failure:
        return failed(SOURCE, kinds, failure.message)
    return parse_walg_backup_list(document, catalog.kinds)


def parse_walg_backup_list(document: Any, kinds: Mapping[str, str]) -> SourceRead:
    """The backups in a parsed `wal-g backup-list --json --detail` answer."""
    mapped = set(kinds.values())
    if not isinstance(document, list):
        return failed(SOURCE, mapped, "wal-g's answer is not a list of backups")
    backups, problems = [], []
    for index, entry in enumerate(document):
        try:
            backups.append(_backup(entry, kinds))
        except ValueError as error:
            name = entry.get("backup_name") if isinstance(entry, dict) else None
            problems.append(f"backup entry {index} ({name or 'no name'}): {error}; left out")
    return listed(SOURCE, mapped, backups, problems)


def backup_type(name: str) -> str:
    """full, or delta for a backup made on an earlier one (base_X_D_Y)."""
    return "delta" if "_D_" in name else "full"


def _backup(entry: Any, kinds: Mapping[str, str]) -> Backup:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    name = entry.get("backup_name")
    if not isinstance(name, str) or not name:
        raise ValueError("no backup_name")
    kind = kinds.get(backup_type(name))
    if kind is None:
        raise ValueError(f"{backup_type(name)} backups count for no kind")
    finished = go_time(entry.get("finish_time"), "finish_time")
    if finished is None:
        finished = go_time(entry.get("time"), "time")
    if finished is None:
        raise ValueError("neither finish_time nor time")
    size = _size(entry.get("uncompressed_size"), "uncompressed_size")
    stored = _size(entry.get("compressed_size"), "compressed_size")
    return Backup(
        kind=kind,
        name=name,
        finished_at=finished,
        size=size,
        source=SOURCE,
        started_at=go_time(entry.get("start_time"), "start_time"),
        backup_type=backup_type(name) + (", permanent" if entry.get("is_permanent") else ""),
        stored_size=stored,
    )


def go_time(value: Any, what: str) -> float | None:
    """Epoch seconds of a Go time.Time in JSON; None when absent or Go's zero time."""
    if value is None or value == "":
        return None
    match = _GO_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{what} {str(value)[:40]!r} is not a time")
    fraction = (match["fraction"] or "")[:6]  # Python keeps microseconds
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    text = match["base"] + (f".{fraction.ljust(6, '0')}" if fraction else "") + zone
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a time") from None
    if moment.year <= 1:  # Go's zero time: the metadata had no such time
        return None
    return moment.timestamp()


def _size(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not a byte count")
    return value or None  # 0: not recorded (older WAL-G), not an empty backup
