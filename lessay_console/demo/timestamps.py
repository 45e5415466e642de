"""ISO-8601 UTC timestamps as the demo's JSON bodies and log lines write them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(epoch: float, timespec: str = "seconds") -> str:
    """``2025-03-01T12:00:00Z`` (or ``...00.123Z`` with ``timespec="milliseconds"``)."""
    text = datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")
