"""`lessay-console runbook list | show | check | dry run`: what the CLI prints about definitions.

Each function prints through `echo` (and problems through `err`) and returns
the exit status, so the CLI stays a thin wiring and tests call them directly.
Commands are shown as `resolve.resolve_command` resolves them for the engine:
what a reviewer reads here is what a run executes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from lessay_console.checks.model import CheckSpec
from lessay_console.config.datafile import DataFileError
from lessay_console.config.durations import format_duration
from lessay_console.config.model import Config
from lessay_console.redaction import redact
from lessay_console.runbooks.loader import load_runbook_file, load_runbooks
from lessay_console.runbooks.model import CommandSpec, Runbook, Step
from lessay_console.runbooks.resolve import (
    ENGINE_VALUES,
    STAGE_VALUE,
    missing_commands,
    param_values,
    percent_text,
    resolve_command,
    shell_join,
    unfillable_placeholders,
)

Echo = Callable[[str], None]


def list_runbooks(config: Config, echo: Echo, err: Echo | None = None) -> int:
    """One line per runbook: id, title, number of steps, where it comes from."""
    runbooks = _load(config, err or echo)
    echo(f"{'ID':<24} {'TITLE':<28} {'STEPS':>5}  ORIGIN")
    for runbook in runbooks:
        steps = len(runbook.steps)
        echo(f"{runbook.id:<24} {runbook.title:<28} {steps:>5}  {runbook.origin}")
    return 0


def show_runbook(config: Config, name: str, echo: Echo, err: Echo | None = None) -> int:
    """Phases and steps, with instructions and commands as written (`{param}` unfilled)."""
    err = err or echo
    runbooks = _load(config, err)
    runbook = find_runbook(runbooks, name)
    if runbook is None:
        hints = runbook_suggestions(runbooks, name)
        hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
        err(f"lessay-console: no runbook {name!r}{hint} (lessay-console runbook list)")
        return 2
    echo(f"{runbook.title} ({runbook.id})")
    guide = f"guide {runbook.guide} · " if runbook.guide else ""
    echo(f"{guide}{runbook.origin} · sha256 {runbook.digest[:12]}")
    if runbook.description:
        echo(runbook.description)
    if runbook.params:
        echo("")
        echo("Parameters")
        for param in runbook.params:
            rule = f" (matching {param.pattern})" if param.pattern else ""
            default = f", default {param.default}" if param.default is not None else ""
            echo(f"  {{{param.name}}}  {param.prompt}{rule}{default}")
    number = 0
    for phase in runbook.phases:
        echo("")
        echo(phase.title)
        for step in phase.steps:
            number += 1
            echo(f"  {number}. {step.title}  [{_kind_label(step)}]")
            for line in step.instructions.strip().splitlines():
                echo(f"       {line}")
            for line in _definition_lines(step, config):
                echo(f"       {line}")
    return 0


def check_runbook_file(path: Path, config: Config, echo: Echo, err: Echo) -> int:
    """Validate a runbook file without running it: 0 when usable, 2 with every problem."""
    try:
        runbook = load_runbook_file(path, config)
    except DataFileError as error:
        for problem in error.problems:
            err(str(problem))
        count = len(error.problems)
        err(f"{count} problem{'s' if count != 1 else ''} found")
        return 2
    phases, steps = len(runbook.phases), len(runbook.steps)
    echo(
        f"{path}: OK: {runbook.id} ({runbook.title}), "
        f"{phases} phase{'s' if phases != 1 else ''}, {steps} step{'s' if steps != 1 else ''}"
    )
    for line in _notes(runbook, config):
        echo(f"note: {line}")
    return 0


def dry_run(
    config: Config,
    runbook: Runbook,
    params: Mapping[str, str],
    echo: Echo,
    err: Echo | None = None,
) -> int:
    """Every command the runbook would run, in order, parameters filled in; nothing is run."""
    values, problems = param_values(runbook, params)
    if problems:
        for problem in problems:
            (err or echo)(f"lessay-console: {problem}")
        return 2
    shown = " ".join(f"{name}={value}" for name, value in values.items())
    # filled by the engine when a run starts: shown as the placeholders they are
    values.update({name: "{" + name + "}" for name in ENGINE_VALUES})
    echo(f"# dry run of {runbook.title} ({runbook.id}): nothing is run")
    if shown:
        echo(f"# parameters: {shown}")
    if config.read_only:
        echo("# this environment is read-only: a run here would execute none of these")
    for number, step in enumerate(runbook.steps, start=1):
        echo(f"{number}. {step.title}  [{_kind_label(step)}]")
        for line in _dry_lines(step, config, values):
            echo(f"   {line}")
    return 0


def find_runbook(runbooks: list[Runbook], name: str) -> Runbook | None:
    """By id or title, case and spacing ignored: "Version Upgrade", "version-upgrade"."""
    wanted = _normal(name)
    return next((r for r in runbooks if wanted in (_normal(r.id), _normal(r.title))), None)


def runbook_suggestions(runbooks: list[Runbook], name: str) -> list[str]:
    return difflib.get_close_matches(name, [r.id for r in runbooks], n=3, cutoff=0.4)


def _normal(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


# -- helpers ---------------------------------------------------------------
def _load(config: Config, err: Echo) -> list[Runbook]:
    runbooks, problems = load_runbooks(config)
    for problem in problems:
        err(f"lessay-console: runbook file left out: {problem}")
    return runbooks


def _kind_label(step: Step) -> str:
    label = step.kind
    if step.rollout is not None:
        label += " " + ", ".join(f"{percent_text(p)} %" for p in step.rollout.stages)
    spec = step.command or (step.rollout.command if step.rollout else None)
    if spec is not None and spec.dangerous:
        label += ", dangerous: asks for confirmation"
    if step.note == "required":
        label += ", note required"
    return label


def _definition_lines(step: Step, config: Config) -> list[str]:
    """What `show` says a step does, commands as templates."""
    if step.command is not None:
        return [f"runs      {_template(step.command, config)}"]
    if step.watch is not None:
        return [f"watches   {_watch_text(step)}"]
    if step.checks:
        return [f"checks    {_checks_text(step.checks)}"]
    if step.rollout is None:
        return []
    rollout = step.rollout
    lines = [f"each stage {_template(rollout.command, config)}"]
    if rollout.verify:
        within = format_duration(rollout.verify_within)
        lines.append(f"verify    {_checks_text(rollout.verify)} (within {within})")
    if rollout.rollback is not None:
        lines.append(f"on abort  {_template(rollout.rollback, config)}")
    return lines


def _template(spec: CommandSpec, config: Config) -> str:
    if spec.named is None:
        return redact(shell_join(spec.argv))
    argv = config.commands.get(spec.named)
    if argv is None:
        return f"{spec.named}: not configured: done by hand"
    return f"{spec.named}: {redact(shell_join(argv))}"


def _dry_lines(step: Step, config: Config, values: dict[str, str]) -> list[str]:
    if step.command is not None:
        return [_command_line(step.command, config, values)]
    if step.watch is not None:
        return [f"watch {_watch_text(step)}"]
    if step.checks:
        return [_check_line(check) for check in step.checks]
    if step.rollout is None:
        return []
    rollout = step.rollout
    lines = []
    for percent in rollout.stages:
        stage_values = {**values, STAGE_VALUE: percent_text(percent)}
        command = _command_line(rollout.command, config, stage_values)
        lines.append(f"stage {percent_text(percent)} %: {command}")
        if rollout.verify:
            within = format_duration(rollout.verify_within)
            lines.append(f"  then verify within {within}: {_checks_text(rollout.verify)}")
            lines += [f"  {_check_line(c)}" for c in rollout.verify if c.kind == "command"]
    if rollout.rollback is not None:
        # {percent} is the stage reached when the operator aborts: known only then
        abort_values = {**values, STAGE_VALUE: "{" + STAGE_VALUE + "}"}
        lines.append("on abort: " + _command_line(rollout.rollback, config, abort_values))
    return lines


def _command_line(spec: CommandSpec, config: Config, values: dict[str, str]) -> str:
    resolved = resolve_command(spec, config, values)
    if resolved.argv is None:
        return f"{resolved.display}  # {resolved.manual_reason}"
    return f"$ {resolved.display}"


def _check_line(check: CheckSpec) -> str:
    argv = check.params.get("argv") if check.kind == "command" else None
    if argv:
        return f"check {check.id}: $ {redact(shell_join(argv))}"
    return f"check {check.id} ({check.kind})"


def _checks_text(checks: tuple[CheckSpec, ...]) -> str:
    return ", ".join(f"{c.id} ({c.kind})" if c.id != c.kind else c.id for c in checks)


def _watch_text(step: Step) -> str:
    assert step.watch is not None  # noqa: S101 - only called for watch steps
    metrics = ", ".join(step.watch.alerts) or "every metric"
    return f"{format_duration(step.watch.duration)}: {metrics}; fails on {step.watch.fail_on}"


def _notes(runbook: Runbook, config: Config) -> list[str]:
    """What a reviewer should know that does not make the file invalid."""
    notes = []
    for name, titles in missing_commands(runbook, config).items():
        steps = ", ".join(repr(t) for t in titles)
        notes.append(f"[commands] {name} is not in the configuration: done by hand in {steps}")
    for name, names in unfillable_placeholders(runbook, config).items():
        placeholders = ", ".join("{" + n + "}" for n in names)
        notes.append(
            f"[commands] {name} uses {placeholders}, which this runbook gives no value: "
            "done by hand"
        )
    builtins, _ = load_runbooks(config, directories=[])
    if any(b.id == runbook.id for b in builtins):
        notes.append(f"in a runbooks/ directory, this replaces the built-in {runbook.id!r}")
    return notes
