"""Reading a log file from its end, within a byte budget, and judging each line's time.

A big file costs only the window asked for and never more than READ_BUDGET
bytes, continuing into the rotated `<file>.1` where the window reaches it. JSON
lines are judged by their time and level fields, plain lines by a leading
timestamp (ISO 8601 or syslog's) and the error pattern. `Window` is what a scan
found, here and in `journald`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from lessay_console.checks.processes import LINE_LIMIT

READ_BUDGET = 8 * 1024 * 1024  # bytes read from a file at most, rotated file included
BLOCK = 64 * 1024  # bytes read at a time
UNTIMED_TAIL_LINES = 10_000  # lines counted where no line carries a time to judge by
# Seconds past the window's start that reading goes on: writers with several threads
# log slightly out of order, so one older line does not yet mean the window has ended.
ORDER_SLACK = 5.0
ERROR_LEVELS = frozenset(
    {"error", "err", "critical", "crit", "fatal", "alert", "emerg", "emergency", "panic"}
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
            self.messages[normalized(message or line)] += 1
            if len(self.newest_errors) < self.keep:
                self.newest_errors.append(line)

    def last_errors(self) -> list[str]:
        return list(reversed(self.newest_errors))


def normalized(message: str) -> str:
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
