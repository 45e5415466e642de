"""The `logs` check: how many errors a service logged in a recent window, and the last ones.

Two sources, as `[logs]` in the configuration names them. A journald unit is read
through `journalctl` (errors: priority err and above). A log file is read from its
end backwards, so a big file costs only the window asked for and never more than
READ_BUDGET bytes, continuing into the rotated `<file>.1` where the window reaches it.
JSON lines are judged by their time and level fields, plain lines by a leading
timestamp and the error pattern. Lines come back raw: the runner sanitizes them.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from lessay_console.checks.command import (
    LINE_LIMIT,
    LineSplitter,
    end_process_group,
    start_process,
    wait_exit,
)
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.config.durations import format_duration, parse_duration
from lessay_console.config.model import LogSource

READ_BUDGET = 8 * 1024 * 1024  # bytes read from a file at most, rotated file included
BLOCK = 64 * 1024
UNTIMED_TAIL_LINES = 10_000  # lines counted where no line carries a time to judge by
# Seconds past the window's start that reading goes on: writers with several threads
# log slightly out of order, so one older line does not yet mean the window has ended.
ORDER_SLACK = 5.0
JOURNAL_LINE_LIMIT = 256 * 1024  # a journal entry as JSON, all fields; its message is capped
DEFAULT_ERROR_PATTERN = r"\b(?:ERROR|CRITICAL|FATAL|panic|Traceback)\b"
ERROR_LEVELS = frozenset(
    {"error", "err", "critical", "crit", "fatal", "alert", "emerg", "emergency", "panic"}
)
# Who may read the whole system journal besides root (journalctl's own hint names them).
JOURNAL_GROUPS = frozenset({"systemd-journal", "adm", "wheel"})

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

_ISO_PREFIX = re.compile(
    r"\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_SYSLOG_PREFIX = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\b")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Structured loggers write time and level first: enough to judge a line cut at LINE_LIMIT.
_JSON_TIME = re.compile(r'"(?:ts|time|timestamp)"\s*:\s*(?:"([^"]*)"|(\d+(?:\.\d+)?))')
_JSON_LEVEL = re.compile(r'"(?:level|severity)"\s*:\s*"(\w+)"')
_DIGITS = re.compile(r"\d+")


@dataclass
class Window:
    """What was found in the window: counts, the newest error lines, their messages."""

    cutoff: float
    keep: int  # error lines to keep
    lines: int = 0
    errors: int = 0
    newest_errors: list[str] = field(default_factory=list)  # newest first
    messages: Counter[str] = field(default_factory=Counter)
    malformed: int = 0  # lines that start like JSON but do not parse
    truncated: int = 0  # lines longer than LINE_LIMIT
    timed: bool = False  # some line carried a time: the window could be judged
    ended: bool = False  # a line older than the window was met
    budget_spent: bool = False  # READ_BUDGET ran out before the window ended
    files: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def add(self, line: str, is_error: bool, message: str) -> None:
        self.lines += 1
        if is_error:
            self.errors += 1
            self.messages[_normalized(message or line)] += 1
            if len(self.newest_errors) < self.keep:
                self.newest_errors.append(line)

    def last_errors(self) -> list[str]:
        return list(reversed(self.newest_errors))


def _normalized(message: str) -> str:
    """A message with its numbers blanked, so that one cause counts as one message."""
    first_line = message.strip().split("\n", 1)[0]
    return _DIGITS.sub("#", first_line)[:160]


# -- times ---------------------------------------------------------------------------


def _iso_time(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace(",", "."))
    except ValueError:
        return None
    return moment.timestamp()  # a zone-less time is the host's local time, as syslog's


def _epoch_time(value: float) -> float:
    if value > 1e14:  # microseconds
        return value / 1e6
    if value > 1e11:  # milliseconds
        return value / 1e3
    return value


def _syslog_time(match: re.Match[str], now: float) -> float | None:
    month = _MONTHS.index(match.group(1)) + 1 if match.group(1) in _MONTHS else 0
    if not month:
        return None
    day, hour, minute, second = (int(g) for g in match.group(2, 3, 4, 5))
    year = datetime.fromtimestamp(now).year  # syslog leaves the year out
    try:
        moment = datetime(year, month, day, hour, minute, second).timestamp()
        if moment > now + 86400:  # "Dec 31" read on the 1st of January
            moment = datetime(year - 1, month, day, hour, minute, second).timestamp()
    except ValueError:
        return None
    return moment


def _leading_time(line: str, now: float) -> float | None:
    if match := _ISO_PREFIX.match(line):
        return _iso_time(match.group(1))
    if match := _SYSLOG_PREFIX.match(line):
        return _syslog_time(match, now)
    return None


# -- one line ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    time: float | None
    is_error: bool
    message: str
    malformed: bool = False


def _record_time(record: Mapping[str, Any]) -> float | None:
    for key in ("ts", "time", "timestamp"):
        value = record.get(key)
        if isinstance(value, str):
            return _iso_time(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _epoch_time(float(value))
    return None


def _judge_json(text: str, pattern: re.Pattern[str]) -> Line | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    level = record.get("level", record.get("severity"))
    if isinstance(level, str):
        is_error = level.strip().lower() in ERROR_LEVELS
    else:
        is_error = bool(pattern.search(text))
    message = next(
        (str(record[k]) for k in ("msg", "message", "error") if record.get(k)),
        "",
    )
    return Line(_record_time(record), is_error, message)


def _judge_cut_json(text: str, pattern: re.Pattern[str]) -> Line:
    """A line that starts like JSON but does not parse (cut at LINE_LIMIT, or garbage)."""
    time_match, level_match = _JSON_TIME.search(text), _JSON_LEVEL.search(text)
    moment = None
    if time_match:
        iso, number = time_match.groups()
        moment = _iso_time(iso) if iso is not None else _epoch_time(float(number))
    if level_match:
        is_error = level_match.group(1).lower() in ERROR_LEVELS
    else:
        is_error = bool(pattern.search(text))
    return Line(moment, is_error, text, malformed=True)


def judge_line(text: str, pattern: re.Pattern[str], now: float) -> Line:
    if text.lstrip().startswith("{"):
        judged = _judge_json(text, pattern)
        return judged if judged is not None else _judge_cut_json(text, pattern)
    moment = _leading_time(text, now)
    message = _ISO_PREFIX.sub("", text, count=1).lstrip("] \t") if moment is not None else text
    return Line(moment, bool(pattern.search(text)), message)


# -- files, from the end -------------------------------------------------------------


class BackwardReader:
    """Lines of files from the last to the first, within one byte budget for all files."""

    def __init__(self, budget: int = READ_BUDGET) -> None:
        self.budget = budget
        self.bytes_read = 0
        self.spent = False  # the budget ran out before a file's start

    def lines(self, handle: BinaryIO) -> Iterator[tuple[str, bool]]:
        """(line, was cut at LINE_LIMIT), newest first; empty lines left out."""
        position = handle.seek(0, os.SEEK_END)
        # The line being assembled: its first LINE_LIMIT bytes seen so far (reading
        # backwards, what comes later is earlier in the line), and its full length.
        start, length = b"", 0
        while position > 0:
            size = min(BLOCK, position, self.budget - self.bytes_read)
            if size <= 0:
                self.spent = True
                return  # the line being assembled is incomplete: left out
            position -= size
            handle.seek(position)
            block = handle.read(size)
            self.bytes_read += len(block)
            parts = block.split(b"\n")
            if len(parts) == 1:
                start, length = (block + start)[:LINE_LIMIT], length + len(block)
                continue
            yield from _decoded((parts[-1] + start)[:LINE_LIMIT], length + len(parts[-1]))
            for part in reversed(parts[1:-1]):
                yield from _decoded(part[:LINE_LIMIT], len(part))
            start, length = parts[0][:LINE_LIMIT], len(parts[0])
        yield from _decoded(start, length)


def _decoded(kept: bytes, length: int) -> Iterator[tuple[str, bool]]:
    text = kept.decode("utf-8", "replace").removesuffix("\r")
    if not text.strip():
        return
    cut = length > LINE_LIMIT
    if cut:
        text += f" … [{length - LINE_LIMIT:,} more bytes]"
    yield text, cut


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def scan_file(path: Path, cutoff: float, now: float, pattern: re.Pattern[str], keep: int) -> Window:
    """Read `path` (and `<path>.1` where the window reaches into it) back to `cutoff`."""
    window = Window(cutoff=cutoff, keep=keep)
    reader = BackwardReader()
    walk = _Walk(window, pattern, now)
    for current in (path, rotated(path)):
        try:
            handle = current.open("rb")
        except FileNotFoundError:
            if current == path:
                raise
            break  # no rotated file
        window.files.append(str(current))
        with handle:
            for text, cut in reader.lines(handle):
                if not walk.step(text, cut):
                    window.ended = True
                    break
        if window.ended or reader.spent:
            break
    window.budget_spent = reader.spent
    window.bytes_read = reader.bytes_read
    return window


@dataclass
class _Walk:
    """Judging lines newest first, and knowing when the window has been left."""

    window: Window
    pattern: re.Pattern[str]
    now: float
    untimed_run: int = 0  # lines without a time since the last one with
    outside: bool = False  # the last timed line met was older than the window

    def step(self, text: str, cut: bool) -> bool:
        """Count one line; False once reading further back is useless."""
        window = self.window
        line = judge_line(text, self.pattern, self.now)
        window.truncated += cut
        if line.malformed and not cut:  # a cut JSON line is expected not to parse
            window.malformed += 1
        if line.time is None:
            self.untimed_run += 1
            if not window.timed and self.untimed_run > UNTIMED_TAIL_LINES:
                return False
            if not self.outside:  # a continuation line goes with its record
                window.add(text, line.is_error, line.message)
            return True
        window.timed, self.untimed_run = True, 0
        self.outside = line.time < window.cutoff
        if line.time < window.cutoff - ORDER_SLACK:
            return False
        if not self.outside:
            window.add(text, line.is_error, line.message)
        return True


# -- journald ------------------------------------------------------------------------


class JournalError(Exception):
    """journalctl ran and failed; the message is its stderr."""


def _may_read_system_journal() -> bool:
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
        window.messages[_normalized(shown.split(" ", 1)[1])] += 1
        newest.append(shown)
        del newest[: max(0, len(newest) - window.keep)]


# -- the check -----------------------------------------------------------------------


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's parameters over the kind's defaults (a spec built in code may omit some)."""
    given = {name: value for name, value in params.items() if value is not None}
    return {param.name: param.default for param in PARAMS} | given


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
    p = _params(params)
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
    if window.lines == 0 and not _may_read_system_journal():
        # journalctl -q hides its notice that only this user's own journal was opened
        return Outcome.errored(
            f"no journal entries visible for {unit}: this user is neither root nor in the "
            "systemd-journal or adm group, so the system journal may be hidden",
            unit=unit,
        )
    return _outcome(label, window, since, p, {"source": "journald", "unit": unit})


KINDS: tuple[CheckKind, ...] = (
    CheckKind(name="logs", title="Service logs", params=PARAMS, timeout=15.0, run=check_logs),
)
