"""Reading a check from a symptom or runbook file, every problem with its key."""

from __future__ import annotations

import difflib
import re
from typing import Any

from lessay_console.checks.model import CheckSpec, Param
from lessay_console.config.reader import TableReader

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def read_check(t: TableReader, default_id: str) -> CheckSpec | None:
    """`{ kind = "http_health", id = "...", title = "...", timeout = "5s", explain = "...",
    <the kind's parameters> }`; None (with problems recorded) when it cannot be used."""
    from lessay_console.checks.catalog import KINDS

    kind_name = t.string("kind", required=True)
    check_id = t.string("id", default_id)
    if not _ID.match(check_id):
        t.problem("id", f"{check_id!r} must be lower-case letters, digits, - and _")
    kind = KINDS.get(kind_name) if kind_name else None
    if kind_name and kind is None:
        hint = difflib.get_close_matches(kind_name, KINDS, n=1)
        advice = f"did you mean {hint[0]!r}?" if hint else "known: " + ", ".join(sorted(KINDS))
        t.problem("kind", f"no such check kind {kind_name!r}; {advice}")
    title = t.string("title", kind.title if kind else "")
    explain = t.string("explain", "")
    timeout = t.duration("timeout", kind.timeout if kind else 10.0, minimum=0.01)
    if kind is None:
        for key in t.data:  # the parameters cannot be judged without the kind
            t._take(key)
        return None
    params = {param.name: read_param(t, param) for param in kind.params}
    t.finish()
    return CheckSpec(check_id, kind.name, title, params, timeout, explain)


def read_param(t: TableReader, param: Param) -> Any:
    required = param.required
    match param.type:
        case "string":
            value = t.string(param.name, param.default, required=required)
        case "url":
            value = t.url(param.name, param.default, required=required)
        case "path":
            value = t.path(param.name, param.default)
        case "number":
            value = t.number(param.name, param.default)
        case "duration":
            value = t.duration(param.name, param.default)
        case "boolean":
            value = t.boolean(param.name, param.default)
        case "strings" | "argv":
            value = t.string_list(param.name) or param.default
            if param.type == "argv" and t.has(param.name) and not value:
                t.problem(param.name, 'must be a non-empty list such as ["systemctl", "status"]')
        case _:  # pragma: no cover - a kind declared a type this reader lacks
            raise ValueError(f"unknown parameter type {param.type!r}")
    untyped_required = param.type in ("path", "number", "duration", "argv")
    if required and value is None and untyped_required and not t.has(param.name):
        t.problem(param.name, "is required")
    return value
