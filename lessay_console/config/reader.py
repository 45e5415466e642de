"""Typed reading of TOML tables that collects every problem instead of stopping at one.

A `TableReader` hands out typed values from one table, records each problem
with its dotted key, falls back to the default so reading goes on, and at
`finish()` reports every key nobody asked for (with the nearest known key),
because a typo must not pass silently.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lessay_console.config.durations import parse_duration
from lessay_console.config.secrets import Secret, SecretError, resolve_secret
from lessay_console.redaction import has_inline_password, redact

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dotted(*parts: str) -> str:
    """A TOML dotted key, quoting the parts that need it: escalation."Payment Team";
    array elements (parts such as "[0]") are written tests[0].series[1]."""
    key = ""
    for part in parts:
        if part.startswith("[") and key:
            key += part
            continue
        quoted = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        key += ("." if key else "") + quoted
    return key


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file, fit to print on one line."""

    file: str
    key: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class Problems:
    """The problems found in one file, each located when the source text allows."""

    file: str
    locate: Any = None  # Callable[[tuple[str, ...]], int | None]
    items: list[Problem] = field(default_factory=list)

    def add(self, parts: tuple[str, ...], message: str) -> None:
        line = self.locate(parts) if self.locate else None
        self.items.append(Problem(self.file, dotted(*parts), message, line))


class _Missing:
    pass


MISSING: Any = _Missing()


class TableReader:
    """Typed access to one table; see the module docstring."""

    def __init__(
        self,
        data: dict[str, Any],
        path: tuple[str, ...],
        problems: Problems,
        base_dir: Path | None = None,
    ) -> None:
        self.data = data
        self.keypath = path
        self.problems = problems
        self.base_dir = base_dir
        self._read: set[str] = set()

    # -- plumbing ---------------------------------------------------------
    def _take(self, key: str) -> Any:
        self._read.add(key)
        return self.data.get(key, MISSING)

    def problem(self, key: str | None, message: str) -> None:
        self.problems.add((*self.keypath, key) if key else self.keypath, message)

    def has(self, key: str) -> bool:
        return key in self.data

    def _typed(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        value = self._take(key)
        if value is MISSING:
            return default
        # TOML booleans are ints to Python; a number field must not take `true`
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return value
        self.problem(key, f"must be {what}, not {_describe(value)}")
        return default

    # -- scalar values ----------------------------------------------------
    def string(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        value = self._typed(key, MISSING, (str,), "a string")
        if value is MISSING:
            if required and key not in self.data:
                self.problem(key, "is required")
            return default
        if required and not value.strip():
            self.problem(key, "must not be empty")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def number(
        self,
        key: str,
        default: Any = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        value = self._typed(key, MISSING, (int, float), "a number")
        if value is MISSING:
            return default
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum:g}, not {value:g}")
            return default
        if maximum is not None and value > maximum:
            self.problem(key, f"must be at most {maximum:g}, not {value:g}")
            return default
        return float(value)

    def duration(self, key: str, default: Any, *, minimum: float = 0.0) -> Any:
        text = self._typed(key, MISSING, (str,), 'a duration string such as "5m"')
        if text is MISSING:
            return default
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            self.problem(key, str(error))
            return default
        if seconds < minimum:
            self.problem(key, f"must be at least {minimum:g}s, not {text!r}")
            return default
        return seconds

    def url(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.string(key, MISSING, required=required)
        if value is MISSING:
            return default
        return self._check_url(key, value) or default

    def url_list(self, key: str) -> tuple[str, ...]:
        values = self.string_list(key)
        return tuple(url for url in values if self._check_url(key, url))

    def _check_url(self, key: str, url: str) -> str | None:
        match = re.match(r"^(https?)://([^/?#]+)", url)
        if not match:
            self.problem(key, f"{_shown(url)} is not an http:// or https:// URL")
            return None
        if has_inline_password(url):
            self.problem(key, "has a password in clear; use a token from env:NAME instead")
            return None
        return url

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self._typed(key, MISSING, (list,), "a list of strings")
        if value is MISSING:
            return ()
        if not all(isinstance(item, str) for item in value):
            self.problem(key, "must be a list of strings")
            return ()
        return tuple(value)

    def path(self, key: str, default: Any = None) -> Any:
        value = self.string(key, MISSING)
        if value is MISSING:
            return default
        path = Path(value).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def secret(self, key: str, *, required: bool = False, literal_ok: bool = True) -> Secret | None:
        """A secret reference, resolved now so that an unset variable is reported now."""
        reference = self.string(key, MISSING, required=required)
        if reference is MISSING:
            return None
        if not reference.startswith(("env:", "file:")):
            if not literal_ok:
                self.problem(key, 'must be a reference such as "env:NAME" or "file:PATH"')
                return None
            if has_inline_password(reference):
                self.problem(
                    key,
                    "has a password in clear; write env:NAME (the DSN in an "
                    "environment variable), file:PATH, or rely on PGPASSFILE",
                )
                return None
        try:
            return resolve_secret(reference, self.base_dir)
        except SecretError as error:
            self.problem(key, str(error))
            return None

    # -- structure --------------------------------------------------------
    def table(self, key: str) -> TableReader | None:
        value = self._typed(key, MISSING, (dict,), "a table")
        if value is MISSING:
            return None
        return TableReader(value, (*self.keypath, key), self.problems, self.base_dir)

    def tables(self, key: str, *, what: str, required: bool = True) -> list[TableReader]:
        """An array of tables (`[[tests]]`), each read at its index: tests[2].name."""
        value = self._take(key)
        if value is MISSING:
            if required:
                self.problem(key, f"is required: at least one {what}")
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(key, f"must be an array of tables, written {what}")
            return []
        if not value and required:
            self.problem(key, f"is empty: give at least one {what}")
        keypath = (*self.keypath, key)
        return [
            type(self)(item, (*keypath, f"[{index}]"), self.problems, self.base_dir)
            for index, item in enumerate(value)
        ]

    def subtables(self) -> Iterator[tuple[str, TableReader]]:
        """Every key of a table of tables (as [logs.api], [thresholds.cpu])."""
        for key in list(self.data):
            sub = self.table(key)
            if sub is not None:
                yield key, sub

    def finish(self) -> None:
        """Report every key that no reader asked for."""
        for key in self.data:
            if key not in self._read:
                hint = difflib.get_close_matches(key, sorted(self._read), n=1, cutoff=0.6)
                known = ", ".join(sorted(self._read))
                advice = f"did you mean {hint[0]!r}?" if hint else f"known keys here: {known}"
                self.problem(key, f"unknown key; {advice}")


def _describe(value: Any) -> str:
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    for kind, name in kinds.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _shown(text: str) -> str:
    return repr(redact(text))
