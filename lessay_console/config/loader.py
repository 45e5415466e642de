"""Finding and loading the configuration file: lookup order, TOML errors, validation."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from lessay_console.config.model import Config
from lessay_console.config.reader import Problem, Problems, TableReader
from lessay_console.config.sections import read_config
from lessay_console.locations import ConfigCandidate, config_candidates


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def find_config(option: Path | None) -> ConfigCandidate | None:
    """The first configuration file of the lookup order, or None when there is none.

    A path the operator named (--config, $LESSAY_CONSOLE_CONFIG) must exist.
    """
    for candidate in config_candidates(option):
        if candidate.path.is_file():
            return candidate
        if candidate.explicit:
            reason = "is not a regular file" if candidate.path.exists() else "does not exist"
            raise ConfigError(
                [Problem(str(candidate.path), "", f"{reason} (named by {candidate.origin})")]
            )
    return None


def load_config(path: Path) -> Config:
    """Read, parse and validate one file; raise ConfigError with every problem found."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([Problem(name, "", f"cannot be read: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([Problem(name, "", f"is not UTF-8 text (byte {error.start})")]) from None
    return parse_config_text(text, name, path.parent)


def parse_config_text(text: str, name: str, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([syntax_problem(name, error)]) from None
    problems = Problems(name, locate=KeyLocator(text))
    config = read_config(TableReader(data, (), problems, base_dir))
    if problems.items:
        # in file order, so an operator can walk down the file fixing them
        ordered = sorted(problems.items, key=lambda p: p.line if p.line is not None else 1 << 30)
        raise ConfigError(ordered)
    return replace(config, source=Path(name))


def syntax_problem(name: str, error: tomllib.TOMLDecodeError) -> Problem:
    message = str(error)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if not match:
        return Problem(name, "", f"TOML syntax error: {message}")
    reason = message[: match.start()]
    return Problem(name, "", f"TOML syntax error: {reason}", int(match[1]), int(match[2]))


class KeyLocator:
    """Best-effort line numbers for dotted keys, so a problem points into the file.

    Knows table headers and `key = value` lines; a key inside an inline table
    is located at the line of the inline table.
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
    _ASSIGN = re.compile(
        r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
        r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
    )

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        # `[[tests]]` headers are counted, so that `tests[2]` finds the third one
        last_index: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                table = _resolve(split_key(header[1]), last_index)
                if line.lstrip().startswith("[["):
                    self.lines.setdefault(table, number)
                    last_index[table] = index = last_index.get(table, -1) + 1
                    table = (*table, f"[{index}]")
                self.lines.setdefault(table, number)
            elif assign := self._ASSIGN.match(line):
                self.lines.setdefault((*table, *split_key(assign[1])), number)

    def __call__(self, parts: tuple[str, ...]) -> int | None:
        for end in range(len(parts), 0, -1):
            if (line := self.lines.get(parts[:end])) is not None:
                return line
        return None


def _resolve(parts: tuple[str, ...], last_index: dict[tuple[str, ...], int]) -> tuple[str, ...]:
    """`tests.series` under the latest `[[tests]]` is tests[N].series."""
    resolved: tuple[str, ...] = ()
    for part in parts[:-1]:
        resolved = (*resolved, part)
        if resolved in last_index:
            resolved = (*resolved, f"[{last_index[resolved]}]")
    return (*resolved, parts[-1]) if parts else resolved


def split_key(key: str) -> tuple[str, ...]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)", key)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)
