"""Reading a journald unit's entries since a moment through `journalctl -o json`.

Errors are entries of priority err (3) and above. journalctl runs in a process
group of its own (`processes`), ended on every way out; its output is read
line by line, each line capped, so a flood of entries costs bounded memory.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lessay_console.checks.log_files import BLOCK, Window, normalized
from lessay_console.checks.processes import (
    LINE_LIMIT,
    LineSplitter,
    end_process_group,
    start_process,
    wait_exit,
)

JOURNAL_LINE_LIMIT = 256 * 1024  # a journal entry as JSON, all fields; its message is capped
# Who may read the whole system journal besides root (journalctl's own hint names them).
JOURNAL_GROUPS = frozenset({"systemd-journal", "adm", "wheel"})


class JournalError(Exception):
    """journalctl ran and failed; the message is its stderr."""


def may_read_system_journal() -> bool:
    """Root, or in a group journald lets read every unit's entries."""
    if os.geteuid() == 0:
        return True
    names = set()
    for gid in os.getgroups():
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return bool(names & JOURNAL_GROUPS)


def _journal_line(entry: Mapping[str, Any]) -> tuple[float | None, bool, str]:
    try:
        moment: float | None = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
    except (KeyError, TypeError, ValueError):
        moment = None
    try:
        is_error = int(entry.get("PRIORITY", 6)) <= 3
    except (TypeError, ValueError):
        is_error = False
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journald gives non-UTF-8 messages as byte arrays
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256)
        message = message.decode("utf-8", "replace")
    message = str(message or "")[:LINE_LIMIT]
    stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment else "?"
    return moment, is_error, f"{stamp} {message}"


async def _read_all(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(BLOCK):
        kept += chunk[: max(0, limit - len(kept))]
    return bytes(kept)


async def scan_journal(unit: str, cutoff: float, keep: int) -> Window:
    """Entries of `unit` since `cutoff`; errors are priority err (3) and above."""
    window = Window(cutoff=cutoff, keep=keep)
    argv = ["journalctl", "-u", unit, "--since", f"@{int(cutoff)}", "-o", "json"]
    argv += ["--no-pager", "-q"]
    process = await start_process(argv, stderr=asyncio.subprocess.PIPE)
    stdout, stderr_pipe = process.stdout, process.stderr
    if stdout is None or stderr_pipe is None:  # pragma: no cover - both are pipes
        raise RuntimeError("journalctl started without pipes")
    errors_text = asyncio.create_task(_read_all(stderr_pipe, 16384))
    newest: list[str] = []  # journalctl writes oldest first: keep the last `keep`
    try:
        splitter = LineSplitter(JOURNAL_LINE_LIMIT)
        while chunk := await stdout.read(BLOCK):
            window.bytes_read += len(chunk)
            for text in splitter.feed(chunk):
                _journal_entry(window, text, newest)
        for text in splitter.finish():
            _journal_entry(window, text, newest)
        returncode = await wait_exit(process)
        stderr = (await errors_text).decode("utf-8", "replace").strip()
    finally:
        errors_text.cancel()
        await end_process_group(process)
    if returncode != 0:
        raise JournalError(stderr or f"journalctl exited with {returncode}")
    window.newest_errors = list(reversed(newest))
    window.timed = window.ended = True
    return window


def _journal_entry(window: Window, text: str, newest: list[str]) -> None:
    try:
        entry = json.loads(text)
    except ValueError:
        window.malformed += 1
        return
    if not isinstance(entry, dict):
        window.malformed += 1
        return
    moment, is_error, shown = _journal_line(entry)
    if moment is not None and moment < window.cutoff:
        return
    window.lines += 1
    if is_error:
        window.errors += 1
        window.messages[normalized(shown.split(" ", 1)[1])] += 1
        newest.append(shown)
        del newest[: max(0, len(newest) - window.keep)]
