"""`pgbackrest info --output=json` as a backup catalog.

pgBackRest answers with a list of stanzas. Each has a `status` (`code` 0 ok,
1 missing stanza path, 2 no valid backups, 3 missing stanza data, 4 different
across repos, 5 database mismatch across repos, 6 backup/expire running, 99
other) and a `backup` list whose entries carry `label`, `type` (full, diff,
incr), `timestamp.start`/`stop` (epoch seconds), `info.size` (the database),
`info.repository.size` (what the repository holds) and `error` (pgBackRest found
errors in the copied files, page checksums for one).

Types map to schedule kinds by `[backups.pgbackrest] kinds`; by default a full
backup is the guide's daily full, a differential or incremental one its hourly
snapshot. An entry that cannot be read is left out with a problem noted; the
others are still listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lessay_console.backups.catalog import Backup, SourceRead, failed, listed
from lessay_console.backups.tools import ToolFailure, json_document, run_tool
from lessay_console.config.model import PgBackRestCatalog

SOURCE = "pgbackrest"
# Stanza states that leave nothing to read when the stanza lists no backup.
_UNREADABLE = {1: "missing stanza path", 3: "missing stanza data", 99: "other error"}
_RUNNING = 6


def pgbackrest_argv(catalog: PgBackRestCatalog) -> list[str]:
    argv = [*catalog.command]
    if catalog.config is not None:
        argv.append(f"--config={catalog.config}")
    return [*argv, f"--stanza={catalog.stanza}", "info", "--output=json"]


async def read_pgbackrest(catalog: PgBackRestCatalog, limit: float) -> SourceRead:
    """Run `pgbackrest info` for the configured stanza and read its answer."""
    where = f"{SOURCE} stanza {catalog.stanza}"
    kinds = set(catalog.kinds.values())
    try:
        output = await run_tool(pgbackrest_argv(catalog), timeout=limit)
        document = json_document(output, "pgbackrest")
    except ToolFailure as failure:
        return failed(where, kinds, failure.message)
    return parse_pgbackrest_info(document, catalog.stanza, catalog.kinds)


def parse_pgbackrest_info(document: Any, stanza: str, kinds: Mapping[str, str]) -> SourceRead:
    """The backups of `stanza` in a parsed `pgbackrest info --output=json` answer."""
    where = f"{SOURCE} stanza {stanza}"
    mapped = set(kinds.values())
    if not isinstance(document, list):
        return failed(where, mapped, "pgbackrest's answer is not a list of stanzas")
    stanzas = [s for s in document if isinstance(s, dict)]
    found = next((s for s in stanzas if s.get("name") == stanza), None)
    if found is None:
        names = ", ".join(str(s.get("name")) for s in stanzas) or "none"
        return failed(where, mapped, f"stanza {stanza!r} is not in pgbackrest's answer ({names})")
    entries = found.get("backup")
    if not isinstance(entries, list):
        entries = []
    problems = _status_problems(found)
    code = _status_code(found)
    if code in _UNREADABLE and not entries:
        message = _status_message(found) or _UNREADABLE[code]
        return failed(where, mapped, f"stanza {stanza}: {message} (status {code})")
    backups = []
    for index, entry in enumerate(entries):
        try:
            backups.append(_backup(entry, kinds))
        except ValueError as error:
            label = entry.get("label") if isinstance(entry, dict) else None
            problems.append(f"backup entry {index} ({label or 'no label'}): {error}; left out")
    return listed(where, mapped, backups, problems)


def _status_code(stanza: dict[str, Any]) -> int | None:
    status = stanza.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _status_message(stanza: dict[str, Any]) -> str:
    status = stanza.get("status")
    message = status.get("message") if isinstance(status, dict) else None
    return str(message) if message else ""


def _status_problems(stanza: dict[str, Any]) -> list[str]:
    """What the stanza's and its repositories' statuses say that is worth knowing."""
    problems = []
    code = _status_code(stanza)
    name = stanza.get("name")
    if code is None:
        problems.append(f"stanza {name}: no status in pgbackrest's answer")
    elif code == _RUNNING:
        problems.append(f"stanza {name}: a backup or expire is running")
    elif code not in (0, 2):  # 2, no valid backups, shows as no backup of any kind
        problems.append(f"stanza {name}: {_status_message(stanza)} (status {code})")
    for repo in stanza.get("repo") or ():
        status = repo.get("status") if isinstance(repo, dict) else None
        if isinstance(status, dict) and status.get("code") not in (0, 2, None):
            problems.append(f"repo{repo.get('key')}: {status.get('message')}")
    return problems


def _backup(entry: Any, kinds: Mapping[str, str]) -> Backup:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    label = entry.get("label")
    if not isinstance(label, str) or not label:
        raise ValueError("no label")
    backup_type = entry.get("type")
    if backup_type not in kinds:
        raise ValueError(f"type {backup_type!r} is none of {', '.join(kinds)}")
    timestamp = entry.get("timestamp")
    if not isinstance(timestamp, dict):
        raise ValueError("no timestamp")
    stop = _number(timestamp.get("stop"), "timestamp.stop")
    if stop is None:
        raise ValueError("no timestamp.stop")
    info = entry.get("info") if isinstance(entry.get("info"), dict) else {}
    repository = info.get("repository") if isinstance(info.get("repository"), dict) else {}
    size = _number(info.get("size"), "info.size")
    stored = _number(repository.get("size"), "info.repository.size")
    error = entry.get("error") is True
    return Backup(
        kind=kinds[backup_type],
        name=label,
        finished_at=float(stop),
        size=None if size is None else int(size),
        good=not error,
        why_not="pgBackRest found errors in the files it copied (see pgbackrest verify)"
        if error
        else "",
        source=SOURCE,
        started_at=_number(timestamp.get("start"), "timestamp.start"),
        backup_type=backup_type,
        stored_size=None if stored is None else int(stored),
    )


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is not a number")
    if value < 0:
        raise ValueError(f"{what} is negative")
    return float(value)
