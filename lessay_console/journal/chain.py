"""The hash chain: the canonical form of an event and the hash that links it to the one before.

The store computes the hash when it appends and `verify` recomputes it from the
stored columns, so both go through `event_hash` and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lessay_console.redaction import redact

GENESIS_HASH = "0" * 64  # the prev_hash of event #1


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 as is, floats as `repr` gives them."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def event_hash(
    seq: Any,
    prev_hash: Any,
    stream: Any,
    kind: Any,
    at: Any,
    operator: Any,
    host: Any,
    ssh_client: Any,
    pid: Any,
    data: Any,
) -> str:
    """sha256 of the canonical JSON of every column but the hash itself.

    Arguments are typed Any because `verify` feeds it whatever the file holds:
    a tampered column of the wrong type must give a different hash, not an error.
    """
    fields = [seq, prev_hash, stream, kind, at, operator, host, ssh_client, pid, data]
    return hashlib.sha256(canonical_json(fields).encode("utf-8", "surrogatepass")).hexdigest()


def clean_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """A plain JSON copy of `data` with every string redacted.

    Raises ValueError for what JSON cannot hold exactly: NaN and infinities,
    keys that are not strings, text that is not valid Unicode, other types.
    The copy also means a caller mutating its dict later cannot change the event.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"journal event data must be a mapping, not {type(data).__name__}")
    return _clean(data, "data")


def _clean(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum reads back as a plain int: store it as one
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}: JSON has no NaN or infinity")
        return float(value)
    if isinstance(value, str):
        return _checked_text(redact(value), where)
    if isinstance(value, Mapping):
        cleaned = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a key that is not a string: {key!r}")
            cleaned[_checked_text(redact(key), where)] = _clean(item, f"{where}.{key}")
        return cleaned
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [_clean(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which JSON cannot hold")


def _checked_text(text: str, where: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} holds text that is not valid Unicode") from None
    return str(text)
