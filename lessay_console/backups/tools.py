"""Running the catalog tools (pgbackrest, wal-g) and finding their JSON in what they print.

The tools run as every command of the console does (`checks.command.run_command`):
no shell, their own process group, killed at the timeout, output capped. Their
stderr comes merged into stdout, so log lines (WAL-G's "INFO: ...", a pgBackRest
warning) may surround the JSON document: it is looked for line by line when the
whole output is not JSON. Whatever goes wrong becomes a `ToolFailure` whose
message says what and why, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lessay_console.checks.command import run_command

# A catalog of a few thousand backups is a few MB of JSON; more than this is not a catalog.
OUTPUT_LIMIT = 8 * 1024 * 1024
_SHOWN = 200  # characters of a tool's own words quoted in a message


class ToolFailure(Exception):
    """A catalog tool could not be run, or what it printed cannot be read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def run_tool(
    argv: Sequence[str],
    *,
    timeout: float,  # noqa: ASYNC109 - a failure that says so at the timeout, not a cancellation
    env: Mapping[str, str] | None = None,
) -> str:
    """What `argv` printed (stdout and stderr), when it ran to a zero exit."""
    tool = Path(argv[0]).name
    result = await run_command(argv, timeout=timeout, output_limit=OUTPUT_LIMIT, env=env)
    if result.not_started is not None:
        raise ToolFailure(f"cannot run {tool}: {result.not_started}")
    if result.timed_out:
        raise ToolFailure(f"{tool} did not finish within {timeout:g}s and was stopped")
    if result.truncated_bytes:
        raise ToolFailure(
            f"{tool} printed more than {OUTPUT_LIMIT // (1024 * 1024)} MiB; "
            "the output was cut and cannot be read"
        )
    if result.signal_name is not None:
        raise ToolFailure(f"{tool} was killed by {result.signal_name}")
    if result.returncode != 0:
        said = f": {result.last_line[:_SHOWN]}" if result.last_line else ""
        raise ToolFailure(f"{tool} exited {result.returncode}{said}")
    return result.output


def json_document(output: str, tool: str) -> Any:
    """The JSON document in a tool's output: all of it, or the one line among log lines."""
    text = output.strip()
    if not text:
        raise ToolFailure(f"{tool} printed nothing")
    try:
        return json.loads(text)
    except ValueError:
        pass
    candidates = [line for line in text.splitlines() if line.lstrip().startswith(("[", "{"))]
    for line in candidates:
        try:
            return json.loads(line)
        except ValueError:
            continue
    if candidates:  # it began a document and did not end it
        raise ToolFailure(f"{tool} printed incomplete JSON (cut short?): {_quoted(candidates[0])}")
    raise ToolFailure(f"{tool} printed no JSON: {_quoted(text.splitlines()[-1])}")


def _quoted(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines, `# comments` and an `export ` prefix allowed), as
    systemd's EnvironmentFile and WAL-G's envdir-style setups write them. Values are
    never quoted in a message: they hold storage keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ToolFailure(f"cannot read env_file {path}: {reason}") from None
    values = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ToolFailure(f"env_file {path}:{number}: not a KEY=VALUE line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def environment_with(extra: Mapping[str, str]) -> dict[str, str] | None:
    """The console's environment plus `extra`; None (inherit as it is) when nothing is added."""
    if not extra:
        return None
    return {**os.environ, **extra}
