"""Typed values that cross from sources to the store: samples, labels, errors.

A source measures; what it returns is a list of `Sample`s or a
`SourceFailure` saying why it could not. Nothing else crosses.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

# A label set as a sorted tuple of (name, value): hashable, cheap, canonical.
Labels = tuple[tuple[str, str], ...]

# Prometheus's staleness marker: a NaN with its own bit pattern, so that a
# real NaN value (0/0) stays distinguishable from "this series ended here".
_STALE_BITS = struct.pack("<Q", 0x7FF0000000000002)
STALE: float = struct.unpack("<d", _STALE_BITS)[0]


def is_stale(value: float) -> bool:
    return math.isnan(value) and struct.pack("<d", value) == _STALE_BITS


def labels_of(mapping: Mapping[str, str] | None = None, **extra: str) -> Labels:
    """The canonical label tuple of a mapping (and keyword labels)."""
    merged = dict(mapping or {}, **extra)
    return tuple(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    value: float
    labels: Labels = ()
    # when measured, if not the poll's start (history backfilled from Prometheus)
    timestamp: float | None = None

    def label(self, name: str, default: str = "") -> str:
        for key, value in self.labels:
            if key == name:
                return value
        return default


class SourceFailure(Exception):
    """A source could not measure; `kind` classifies, the message says what and why.

    Kinds: "timeout", "connect", "http", "parse", "invalid", "auth", "permission",
    "config", "internal". Messages are redacted before they are made.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class Collected:
    """What one poll of a source returned.

    `problems` are partial failures that did not stop the poll (one of two
    scrape targets down); `notes` are lasting conditions an operator should
    know (a role without pg_read_all_stats sees less).
    """

    samples: tuple[Sample, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
