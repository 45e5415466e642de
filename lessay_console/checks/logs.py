"""The `logs` check: how many errors a service logged in a recent window, and the last ones.

Two sources, as `[logs]` in the configuration names them: a journald unit, read
through `journalctl` (`journald`), or a log file, read from its end backwards
(`log_files`). Lines come back raw: the runner sanitizes them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lessay_console.checks.journald import JournalError, may_read_system_journal, scan_journal
from lessay_console.checks.log_files import READ_BUDGET, Window, scan_file
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.checks.processes import LINE_LIMIT
from lessay_console.config.durations import format_duration, parse_duration
from lessay_console.config.model import LogSource

DEFAULT_ERROR_PATTERN = r"\b(?:ERROR|CRITICAL|FATAL|panic|Traceback)\b"

PARAMS = (
    Param("service", "string", help="a service of [logs] in the configuration: api, auth, ..."),
    Param("unit", "string", help="a journald unit, instead of a configured service"),
    Param("file", "path", help="a log file, instead of a configured service"),
    Param("since", "duration", 300.0, help="how far back to look"),
    Param("error_pattern", "string", DEFAULT_ERROR_PATTERN, help="regex for plain-text lines"),
    Param("warn_at", "number", 1, help="errors from which the check warns"),
    Param("fail_at", "number", 10, help="errors from which the check fails"),
    Param("lines", "number", 20, help="how many of the last error lines to show"),
)


def _seconds(value: Any) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


def _status(errors: int, warn_at: float, fail_at: float) -> CheckStatus:
    if errors >= fail_at:
        return CheckStatus.FAIL
    if errors >= warn_at:
        return CheckStatus.WARN
    return CheckStatus.PASS


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _outcome(
    label: str, window: Window, since: float, p: Mapping[str, Any], source: dict[str, Any]
) -> Outcome:
    span = format_duration(since)
    errors = _plural(window.errors, "error")
    if window.timed or not window.lines:
        summary = f"{label}: {errors} in the last {span} ({_plural(window.lines, 'line')} read)"
    else:
        summary = (
            f"{label}: {errors} in the last {_plural(window.lines, 'line')} "
            f"(no timestamps: the {span} window could not be judged)"
        )
    notes = []
    if window.budget_spent:
        budget = READ_BUDGET // (1024 * 1024)
        notes.append(f"only the last {budget} MiB read: older lines of the window not counted")
    if window.malformed and source["source"] == "file":
        notes.append(f"{_plural(window.malformed, 'malformed JSON line')}, read as plain text")
    elif window.malformed:
        notes.append(f"{_plural(window.malformed, 'line')} not JSON, left out")
    if window.truncated:
        notes.append(f"{_plural(window.truncated, 'line')} longer than {LINE_LIMIT} bytes, cut")
    most = window.messages.most_common(1)
    if most:
        summary += f"; most frequent ({most[0][1]}): {most[0][0]}"
    if window.budget_spent:
        summary += f"; {notes[0]}"
    data = {
        **source,
        "since": since,
        "errors": window.errors,
        "lines_read": window.lines,
        "bytes_read": window.bytes_read,
        "files": window.files,
        "most_frequent": {"message": most[0][0], "count": most[0][1]} if most else None,
        "window_judged": window.timed or not window.lines,
        "complete": not window.budget_spent,
        "malformed_lines": window.malformed,
        "truncated_lines": window.truncated,
    }
    status = _status(window.errors, float(p["warn_at"]), float(p["fail_at"]))
    detail = tuple(f"({note})" for note in notes) + tuple(window.last_errors())
    return Outcome(status, summary, detail, data)


async def check_logs(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    p = LOGS.with_defaults(params)
    source = _source(ctx.config.logs, p)
    if isinstance(source, Outcome):
        return source
    label, unit, file = source
    try:
        since = _seconds(p["since"])
        pattern = re.compile(p["error_pattern"])
    except (ValueError, re.error) as error:
        return Outcome.errored(f"bad parameter: {error}")
    if since <= 0:
        return Outcome.errored("since must be a positive duration such as 5m")
    keep = max(0, int(p["lines"]))
    now = ctx.clock()
    if file is not None:
        return await _check_file(label, Path(file), now, since, pattern, keep, p)
    return await _check_journal(label, unit or "", now - since, since, keep, p)


def _source(
    logs: Mapping[str, LogSource], p: Mapping[str, Any]
) -> tuple[str, str | None, Path | None] | Outcome:
    """(label, unit, file) from the parameters or the service's [logs] entry."""
    service, unit, file = p.get("service"), p.get("unit"), p.get("file")
    if file is not None:
        return service or Path(file).name, None, Path(file)
    if unit is not None:
        return service or unit, unit, None
    if service is None:
        return Outcome.errored("give service (a [logs] entry), unit or file")
    configured = logs.get(service)
    if configured is None:
        return Outcome.skipped(
            f"no log source for {service!r}: add [logs.{service}] with "
            'journald_unit = "UNIT" or file = "PATH" to the configuration',
            service=service,
        )
    if configured.journald_unit is None and configured.file is None:
        return Outcome.errored(f"[logs.{service}] gives neither journald_unit nor file")
    return service, configured.journald_unit, configured.file


async def _check_file(
    label: str,
    path: Path,
    now: float,
    since: float,
    pattern: re.Pattern[str],
    keep: int,
    p: Mapping[str, Any],
) -> Outcome:
    try:
        window = await asyncio.to_thread(scan_file, path, now - since, now, pattern, keep)
    except FileNotFoundError:
        return Outcome.failed(f"log file not found: {path}", path=str(path))
    except OSError as error:  # permission denied, a directory, an I/O error
        return Outcome.errored(f"cannot read {path}: {error.strerror or error}", path=str(path))
    return _outcome(label, window, since, p, {"source": "file", "path": str(path)})


async def _check_journal(
    label: str, unit: str, cutoff: float, since: float, keep: int, p: Mapping[str, Any]
) -> Outcome:
    if shutil.which("journalctl") is None:
        return Outcome.skipped("journalctl not found on this host", unit=unit)
    try:
        window = await scan_journal(unit, cutoff, keep)
    except JournalError as error:
        lines = str(error).splitlines()
        return Outcome.errored(
            f"journalctl cannot read {unit}: {lines[0]}", tuple(lines[1:]), unit=unit
        )
    if window.lines == 0 and not may_read_system_journal():
        # journalctl -q hides its notice that only this user's own journal was opened
        return Outcome.errored(
            f"no journal entries visible for {unit}: this user is neither root nor in the "
            "systemd-journal or adm group, so the system journal may be hidden",
            unit=unit,
        )
    return _outcome(label, window, since, p, {"source": "journald", "unit": unit})


LOGS = CheckKind(name="logs", title="Service logs", params=PARAMS, timeout=15.0, run=check_logs)

KINDS: tuple[CheckKind, ...] = (LOGS,)
