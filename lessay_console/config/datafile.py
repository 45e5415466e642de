"""Reading a TOML data file (symptoms, runbooks, rule tests) with every problem located.

Each kind of file has its own reader over a `TableReader`; this module does
what they share: reading the text, TOML syntax errors with line and column,
line numbers for keys, and one exception listing every problem in file order.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lessay_console.config.loader import KeyLocator, syntax_problem
from lessay_console.config.reader import Problem, Problems, TableReader

T = TypeVar("T")


class DataFileError(Exception):
    """A file cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_text(path: Path) -> str:
    name = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFileError([Problem(name, "", f"cannot be read: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        message = f"is not UTF-8 text (byte {error.start})"
        raise DataFileError([Problem(name, "", message)]) from None


def parse_data(
    text: str,
    name: str,
    read: Callable[[TableReader], T],
    base_dir: Path | None = None,
) -> T:
    """`read` the document `text` of a file called `name`; raise DataFileError listing all."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DataFileError([syntax_problem(name, error)]) from None
    problems = Problems(name, locate=KeyLocator(text))
    root = TableReader(data, (), problems, base_dir)
    result = read(root)
    root.finish()
    if problems.items:
        ordered = sorted(problems.items, key=lambda p: p.line if p.line is not None else 1 << 30)
        raise DataFileError(ordered)
    return result


def load_data(path: Path, read: Callable[[TableReader], T]) -> T:
    return parse_data(read_text(path), str(path), read, path.parent)
