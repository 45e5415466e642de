"""From a step's command to the argv that runs: placeholders filled, named commands looked up.

The loader validates placeholders with `placeholders`; the dry run, `runbook
show` and the engine turn a `CommandSpec` into what runs with `resolve_command`,
so that what an operator reviews is what runs.

Placeholders are `{name}`; `{{` and `}}` stand for a literal brace. Filling is
one pass over the template: a value that itself contains `{x}` is inserted as
it is, never expanded again, and a `{name}` with no value is left in place
(and makes the command one done by hand, never run with a literal `{name}`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lessay_console.config.model import Config
from lessay_console.redaction import redact
from lessay_console.runbooks.model import CommandSpec, Runbook, Step

# values the engine fills in every run, whatever the runbook declares
ENGINE_VALUES = ("run_id", "operator")
# the stage's percentage, in a rollout's command and rollback only
STAGE_VALUE = "percent"

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+|\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(frozen=True)
class ResolvedCommand:
    """What a command step will do: run `argv`, or be done by hand for `manual_reason`.

    `display` is one line for the operator (and the journal), credentials masked:
    the shell-quoted argv, or "by hand: ..." with what to do.
    """

    argv: tuple[str, ...] | None
    manual_reason: str | None
    display: str


def placeholders(text: str) -> list[str]:
    """The names of the `{name}` placeholders in `text`, in order; escaped braces are not."""
    return [match[1] for match in _TOKEN.finditer(text) if match[1]]


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `{name}` of `values` replaced, braces unescaped, in one pass."""

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name is None:
            return match[0][0]  # "{{" -> "{", "}}" -> "}"
        return values.get(name, match[0])

    return _TOKEN.sub(replace, text)


def resolve_command(
    spec: CommandSpec, config: Config, values: Mapping[str, str]
) -> ResolvedCommand:
    """The argv `spec` runs with `values`, or why it is done by hand."""
    if spec.named is not None:
        template = config.commands.get(spec.named)
        if template is None:
            shown = ", ".join(
                f"{k}={v}" for k, v in values.items() if k not in ENGINE_VALUES and v != ""
            )
            what = f"{spec.named} ({shown})" if shown else spec.named
            reason = f"not configured: [commands] has no {spec.named!r}"
            return ResolvedCommand(None, reason, redact(f"by hand: {what}"))
    else:
        template = spec.argv
    missing = sorted({n for arg in template for n in placeholders(arg) if n not in values})
    argv = tuple(fill(arg, values) for arg in template)
    if missing:
        names = ", ".join("{" + name + "}" for name in missing)
        reason = f"no value for {names}"
        return ResolvedCommand(None, reason, redact(f"by hand: {shell_join(argv)}"))
    return ResolvedCommand(argv, None, redact(shell_join(argv)))


def shell_join(argv: Iterable[str]) -> str:
    """argv as a shell line, quoted only where needed; `{name}` reads as it is written."""
    return " ".join(arg if _SHELL_SAFE.fullmatch(arg) else shlex.quote(arg) for arg in argv)


def percent_text(percent: float) -> str:
    """A stage's percentage as `{percent}` gives it: 10, 12.5."""
    return f"{percent:g}"


def step_commands(step: Step) -> list[tuple[str, CommandSpec]]:
    """The commands a step may run, by role: "command", or a rollout's "command" and "rollback"."""
    if step.command is not None:
        return [("command", step.command)]
    if step.rollout is not None:
        found = [("command", step.rollout.command)]
        if step.rollout.rollback is not None:
            found.append(("rollback", step.rollout.rollback))
        return found
    return []


def names_available(runbook: Runbook, step: Step) -> set[str]:
    """The placeholders a command of `step` may use: parameters, engine values, `percent`."""
    names = {p.name for p in runbook.params} | set(ENGINE_VALUES)
    if step.kind == "rollout":
        names.add(STAGE_VALUE)
    return names


def missing_commands(runbook: Runbook, config: Config) -> dict[str, list[str]]:
    """Named commands the configuration lacks, each with the titles of the steps naming it."""
    missing: dict[str, list[str]] = {}
    for step in runbook.steps:
        for _, spec in step_commands(step):
            if spec.named is not None and spec.named not in config.commands:
                titles = missing.setdefault(spec.named, [])
                if step.title not in titles:
                    titles.append(step.title)
    return missing


def unfillable_placeholders(runbook: Runbook, config: Config) -> dict[str, list[str]]:
    """Configured named commands whose argv uses a `{name}` this runbook never gives a value."""
    found: dict[str, list[str]] = {}
    for step in runbook.steps:
        available = names_available(runbook, step)
        for _, spec in step_commands(step):
            if spec.named is None:
                continue
            for arg in config.commands.get(spec.named, ()):
                for name in placeholders(arg):
                    names = found.setdefault(spec.named, [])
                    if name not in available and name not in names:
                        names.append(name)
    return {command: names for command, names in found.items() if names}


def param_values(runbook: Runbook, given: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each parameter's value (given, else its default) and every reason they cannot be used."""
    problems = [
        f"{name!r} is not a parameter of {runbook.id}"
        for name in given
        if name not in _names(runbook)
    ]
    values: dict[str, str] = {}
    for param in runbook.params:
        value = given.get(param.name, param.default)
        if value is None:
            problems.append(f"{param.name}: a value is required ({param.prompt})")
            continue
        if param.pattern is not None and not re.fullmatch(param.pattern, value):
            problems.append(f"{param.name}: {value!r} does not match {param.pattern}")
            continue
        values[param.name] = value
    return values, problems


def _names(runbook: Runbook) -> set[str]:
    return {p.name for p in runbook.params}
