"""Durations as operators write them: "500ms", "5m", "1h30m", "7d"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Seconds in `text`, a sequence of number-unit parts such as "1h30m".

    Raises ValueError with a message fit to show an operator.
    """
    compact = text.strip()
    if not compact:
        raise ValueError('empty duration; write one such as "30s", "5m" or "24h"')
    position, total = 0, 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(compact):
        if re.fullmatch(r"\d+(\.\d+)?", compact):
            raise ValueError(f'{text!r} has no unit; write "{compact}s" or "{compact}m"')
        raise ValueError(
            f'{text!r} is not a duration; use ms, s, m, h, d or w, as in "500ms", "5m", "1h30m"'
        )
    return total


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of `seconds` that parse_duration reads back.

    >>> format_duration(5400)
    '1h30m'
    >>> format_duration(0.25)
    '250ms'
    """
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


def format_age(seconds: float) -> str:
    """A rounded, human age: "4s", "3m12s", "2h05m", "3d4h"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"
