"""Runbook files (TOML, the README's "Runbook files") read into the model, every problem located.

A file that cannot be followed safely is refused whole, with file, line, key
and reason for each problem: a typo in a rollout stage must show when the file
is reviewed, not in the middle of an upgrade. The built-ins ship as package
data (`builtin/`); the operator's files come from `runbooks/` beside the
configuration and in the user config dir, and one with a built-in's id
replaces it.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
from importlib import resources
from pathlib import Path
from typing import Any

from lessay_console.catalog import METRICS
from lessay_console.checks.model import CheckSpec
from lessay_console.checks.spec import read_check
from lessay_console.config.datafile import DataFileError, parse_data, read_text
from lessay_console.config.model import Config
from lessay_console.config.reader import Problem, TableReader
from lessay_console.runbooks.model import (
    CommandSpec,
    Phase,
    RolloutSpec,
    Runbook,
    RunbookParam,
    Step,
    WatchSpec,
)
from lessay_console.runbooks.resolve import ENGINE_VALUES, STAGE_VALUE, placeholders

BUILTIN_DIR = "builtin"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

_COMMON_KEYS = ("id", "title", "kind", "instructions", "note")
_COMMAND_KEYS = ("command", "argv", "dangerous", "timeout", "expect_exit")
_ROLLOUT_KEYS = ("stages", "verify", "verify_within", "rollback", "rollback_argv")
# the fields each step kind takes besides the common ones; another kind's field is an error
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "manual": ("choose",),
    "check": ("checks",),
    "command": _COMMAND_KEYS,
    "watch": ("duration", "alerts", "fail_on"),
    "rollout": (*_ROLLOUT_KEYS, *_COMMAND_KEYS),
}
NOTE_RULES = ("none", "optional", "required")
# what a manual step can offer to choose from
CHOOSERS = ("backup",)


# -- public API --------------------------------------------------------------
def parse_runbook(text: str, name: str, config: Config, origin: str | None = None) -> Runbook:
    """The runbook in `text` (a file called `name`); DataFileError lists every problem.

    Nothing in `config` makes a runbook invalid today: a named command it lacks
    is done by hand (`resolve.missing_commands` lists them for `runbook check`).
    """
    del config  # taken so that callers stay as they are when a cross-check comes
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    base_dir = Path(name).parent if origin != "built-in" else None
    return parse_data(
        text, name, lambda root: _read_runbook(root, origin or name, digest), base_dir
    )


def load_runbook_file(path: Path, config: Config) -> Runbook:
    return parse_runbook(read_text(path), str(path), config)


def load_runbooks(
    config: Config, directories: list[Path] | None = None
) -> tuple[list[Runbook], list[Problem]]:
    """The built-ins, then every `*.toml` in `directories` (by default `runbook_dirs(config)`).

    A bad file is left out and its problems returned (file:line: key: reason):
    one operator's typo must not take the guide's runbooks away.
    """
    builtins = [
        parse_runbook(
            entry.read_text(encoding="utf-8"), f"{BUILTIN_DIR}/{entry.name}", config, "built-in"
        )
        for entry in resources.files(__package__).joinpath(BUILTIN_DIR).iterdir()
        if entry.name.endswith(".toml")
    ]
    builtins.sort(key=lambda r: (_section_key(r.guide), r.id))
    by_id = {runbook.id: runbook for runbook in builtins}
    problems: list[Problem] = []
    for directory in runbook_dirs(config) if directories is None else directories:
        for path in sorted(directory.glob("*.toml")):
            try:
                runbook = load_runbook_file(path, config)
            except DataFileError as error:
                problems += error.problems
                continue
            by_id[runbook.id] = runbook
    return list(by_id.values()), problems


def runbook_dirs(config: Config) -> list[Path]:
    """`runbooks/` beside the configuration file, and in the user config dir."""
    from lessay_console.locations import user_config_file

    candidates = [user_config_file().parent / "runbooks"]
    if config.source is not None:
        candidates.insert(0, config.source.parent / "runbooks")
    seen: list[Path] = []
    for directory in candidates:
        if directory.is_dir() and directory.resolve() not in [d.resolve() for d in seen]:
            seen.append(directory)
    return seen


def _section_key(guide: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", guide)) or (1 << 30,)


# -- the file ------------------------------------------------------------------
def _read_runbook(root: TableReader, origin: str, digest: str) -> Runbook:
    runbook_id, title, description, guide = _read_meta(root)
    params = _read_params(root)
    names = {p.name for p in params} | set(ENGINE_VALUES)
    seen: set[str] = set()  # step ids: events name steps by them, so each must be unique
    if root.has("step") and root.has("phase"):
        root.problem("step", "a runbook has [[phase]] tables or [[step]] tables, not both")
    # a runbook without phases has [[step]] tables: one phase, under the runbook's title
    flat = _read_steps(root, names, "[[step]]", seen) if root.has("step") else None
    if flat is not None and not root.has("phase"):
        phases: tuple[Phase, ...] = (Phase(title, flat),)
    else:
        what = "[[phase]] (or [[step]], for a runbook without phases)"
        phases = tuple(_read_phase(t, names, seen) for t in root.tables("phase", what=what))
    return Runbook(runbook_id, title, description, phases, params, guide, origin, digest)


def _read_meta(root: TableReader) -> tuple[str, str, str, str]:
    """id, title, description and guide section, from [runbook]."""
    meta = root.table("runbook")
    if meta is None:
        if not root.has("runbook"):
            root.problem("runbook", 'is required: a [runbook] table with id = "..." and title')
        return "", "", "", ""
    runbook_id = meta.string("id", "", required=True)
    if runbook_id and not _ID.match(runbook_id):
        meta.problem("id", f"{runbook_id!r} must be lower-case letters, digits and -")
    title = meta.string("title", "", required=True)
    description = meta.string("description", "")
    guide = meta.string("guide", "")
    meta.finish()
    return runbook_id, title, description, guide


def _read_params(root: TableReader) -> tuple[RunbookParam, ...]:
    params: list[RunbookParam] = []
    for t in root.tables("param", what="[[param]]", required=False):
        name = t.string("name", "", required=True)
        if name and not _PARAM_NAME.match(name):
            t.problem(
                "name", f"{name!r} must be lower-case letters, digits and _ (used as {{name}})"
            )
        elif name in (*ENGINE_VALUES, STAGE_VALUE):
            t.problem("name", f"{{{name}}} is filled by the console; choose another name")
        elif name in [p.name for p in params]:
            t.problem("name", f"a parameter {name!r} is already declared")
        pattern = t.string("pattern", None)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                t.problem("pattern", f"is not a regular expression: {error}")
                pattern = None
        default = t.string("default", None)
        if default is not None and pattern is not None and not re.fullmatch(pattern, default):
            t.problem("default", f"{default!r} does not match the pattern {pattern}")
        prompt = t.string("prompt", name, required=True)
        params.append(RunbookParam(name, prompt, default, pattern, t.string("help", "")))
        t.finish()
    return tuple(params)


def _read_phase(t: TableReader, names: set[str], seen: set[str]) -> Phase:
    title = t.string("title", "", required=True)
    steps = _read_steps(t, names, "[[phase.step]]", seen)
    t.finish()
    return Phase(title, steps)


def _read_steps(t: TableReader, names: set[str], what: str, seen: set[str]) -> tuple[Step, ...]:
    steps = []
    for table in t.tables("step", what=what):
        step = _read_step(table, names)
        if step.id in seen:
            key = "id" if table.has("id") else "title"
            table.problem(key, f"another step has the id {step.id!r}; give each step its own id")
        seen.add(step.id)
        steps.append(step)
    return tuple(steps)


# -- steps -------------------------------------------------------------------------
def _read_step(t: TableReader, names: set[str]) -> Step:
    title = t.string("title", "", required=True)
    step_id = t.string("id", None)
    if step_id is None:
        step_id = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "step"
    elif not _ID.match(step_id):
        t.problem("id", f"{step_id!r} must be lower-case letters, digits and -")
    kind = _read_kind(t)
    instructions = t.string("instructions", "")
    _check_placeholders(t, "instructions", [instructions], names)
    note = t.string("note", "optional")
    if note not in NOTE_RULES:
        t.problem("note", f"must be one of {', '.join(NOTE_RULES)}, not {note!r}")
        note = "optional"
    fields: dict[str, Any] = {}
    if kind == "manual" and t.has("choose"):
        choose = t.string("choose")
        if choose not in CHOOSERS:
            t.problem("choose", f"must be one of {', '.join(CHOOSERS)}, not {choose!r}")
        else:
            fields["choose"] = choose
            names.add(choose)  # later steps may use {backup}
    if kind == "check":
        fields["checks"] = _read_checks(t, "checks", required=True)
    elif kind == "command":
        fields["command"] = _read_command(t, names)
    elif kind == "watch":
        fields["watch"] = _read_watch(t)
    elif kind == "rollout":
        fields["rollout"] = _read_rollout(t, names)
    t.finish()
    return Step(step_id, title, kind or "manual", instructions, note, **fields)


def _read_kind(t: TableReader) -> str | None:
    """The step's kind, after reporting every field that belongs to another kind."""
    kind = t.string("kind", None)
    if kind is None and not t.has("kind"):
        t.problem("kind", "is required: one of " + ", ".join(KIND_KEYS))
    elif kind is not None and kind not in KIND_KEYS:
        hint = difflib.get_close_matches(kind, KIND_KEYS, n=1)
        advice = f"did you mean {hint[0]!r}?" if hint else "known: " + ", ".join(KIND_KEYS)
        t.problem("kind", f"no such step kind {kind!r}; {advice}")
        kind = None
    own = (*_COMMON_KEYS, *KIND_KEYS[kind]) if kind else ()
    for key in t.data:
        owners = [k for k, keys in KIND_KEYS.items() if key in keys]
        if not owners or key in own:
            continue
        t._take(key)  # reported here, not again as an unknown key
        if kind:
            belongs = " and ".join(owners)
            t.problem(key, f"belongs to {belongs} steps, not to a {kind} step")
    return kind


def _check_placeholders(t: TableReader, key: str, texts: list[str], names: set[str]) -> None:
    for name in dict.fromkeys(n for text in texts for n in placeholders(text)):
        if name in names:
            continue
        hint = difflib.get_close_matches(name, names, n=1)
        advice = f"did you mean {{{hint[0]}}}?" if hint else "declare it as a [[param]]"
        declared = ", ".join("{" + n + "}" for n in sorted(names))
        t.problem(key, f"{{{name}}} is not a declared parameter ({declared}); {advice}")


def _read_checks(t: TableReader, key: str, *, required: bool) -> tuple[CheckSpec, ...]:
    what = f'{key} = [{{ kind = "http_health" }}, ...]'
    checks = []
    for index, table in enumerate(t.tables(key, what=what, required=required)):
        spec = read_check(table, f"check-{index + 1}")
        if spec is not None:
            checks.append(spec)
    ids = [c.id for c in checks]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        t.problem(key, f"two checks have the id {duplicate!r}; give each its own id")
    return tuple(checks)


def _read_target(
    t: TableReader, name_key: str, argv_key: str, names: set[str], *, required: bool
) -> tuple[str | None, tuple[str, ...]] | None:
    """`name_key = "deploy"` (a name of [commands]) or `argv_key = [...]`: exactly one."""
    named = t.string(name_key, None)
    argv = t.string_list(argv_key)  # a wrong type is reported there, and gives ()
    if isinstance(t.data.get(argv_key), list) and argv[:1] in ((), ("",)):
        t.problem(argv_key, 'must be a non-empty argv list such as ["deployctl", "{version}"]')
        argv = ()
    _check_placeholders(t, argv_key, list(argv), names)
    if named is not None and not named.strip():
        t.problem(name_key, "must name a command of [commands] in the configuration")
        named = None
    if t.has(name_key) and t.has(argv_key):
        t.problem(
            argv_key, f"give either {name_key} (a name of [commands]) or {argv_key}, not both"
        )
        return None
    if required and not t.has(name_key) and not t.has(argv_key):
        t.problem(name_key, f"is required: a name of [commands], or {argv_key} = [...]")
    return (named, ()) if named else (None, argv) if argv else None


def _read_command(t: TableReader, names: set[str]) -> CommandSpec | None:
    """The step's command (`command` or `argv`) with its options, read once for the step."""
    target = _read_target(t, "command", "argv", names, required=True)
    timeout = t.duration("timeout", 600.0, minimum=0.001)
    expect_exit = t.number("expect_exit", 0, minimum=0, maximum=255)
    if expect_exit != int(expect_exit):
        t.problem("expect_exit", f"must be a whole number, not {expect_exit:g}")
    dangerous = t.boolean("dangerous", False)
    if target is None:
        return None
    named, argv = target
    return CommandSpec(argv, named, dangerous, timeout, int(expect_exit))


def _read_watch(t: TableReader) -> WatchSpec | None:
    duration = t.duration("duration", None)
    if duration is None and not t.has("duration"):
        t.problem("duration", 'is required: how long to watch, such as "1h" or "24h"')
    elif duration is not None and duration <= 0:
        t.problem("duration", "must be longer than 0s")
    alerts = t.string_list("alerts")
    for metric in alerts:
        if metric not in METRICS:
            hint = difflib.get_close_matches(metric, METRICS, n=1)
            advice = f"; did you mean {hint[0]!r}?" if hint else ""
            t.problem("alerts", f"no such metric {metric!r}{advice}")
    fail_on = t.string("fail_on", "critical")
    if fail_on not in ("warning", "critical"):
        t.problem("fail_on", f'must be "warning" or "critical", not {fail_on!r}')
        fail_on = "critical"
    return WatchSpec(duration, alerts, fail_on) if duration else None


def _read_rollout(t: TableReader, names: set[str]) -> RolloutSpec | None:
    stages = _read_stages(t)
    with_stage = names | {STAGE_VALUE}
    command = _read_command(t, with_stage)
    target = _read_target(t, "rollback", "rollback_argv", with_stage, required=False)
    # the operator chose to abort: the rollback asks no second confirmation
    rollback = None
    if target is not None and command is not None:
        rollback = CommandSpec(target[1], target[0], timeout=command.timeout)
    verify = _read_checks(t, "verify", required=False)
    verify_within = t.duration("verify_within", 120.0, minimum=0.001)
    if not stages or command is None:
        return None
    return RolloutSpec(stages, command, verify, verify_within, rollback)


def _read_stages(t: TableReader) -> tuple[float, ...]:
    example = "such as [10, 25, 50, 100]"
    if not t.has("stages"):
        t.problem("stages", f"is required: ascending percentages {example}")
        return ()
    value = t._take("stages")  # the reader has no list of numbers; judged here
    numbers = isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )
    if not numbers or not value:
        t.problem("stages", f"must be a non-empty list of percentages {example}")
        return ()
    for stage in value:
        if not 0 < stage <= 100:
            t.problem("stages", f"{stage:g} is not a percentage in (0, 100]")
            return ()
    for before, after in itertools.pairwise(value):
        if after <= before:
            t.problem("stages", f"must be in ascending order: {after:g} comes after {before:g}")
            return ()
    return tuple(float(v) for v in value)
