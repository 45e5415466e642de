"""The symptom catalog (guide section 2.1) as data: built-ins, then the operator's files.

A symptom names the alerts that point to it, its checks, its resolutions and
its escalation path. Files are TOML (see builtin_symptoms.toml); a problem is
reported with file, line, key and reason, like the configuration's.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lessay_console.catalog import METRICS
from lessay_console.checks.model import CheckSpec
from lessay_console.checks.spec import read_check
from lessay_console.config.datafile import DataFileError, load_data, parse_data
from lessay_console.config.model import Config
from lessay_console.config.reader import Problem, TableReader

BUILTIN_NAME = "builtin_symptoms.toml"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Resolution:
    title: str
    steps: tuple[str, ...]
    # an action the operator may run from the wizard: confirmed first, recorded after
    command: tuple[str, ...] = ()
    command_title: str = ""
    dangerous: bool = False
    timeout: float = 120.0


@dataclass(frozen=True)
class Symptom:
    id: str
    title: str
    description: str
    alerts: tuple[str, ...]  # metrics whose alerts point to this symptom
    checks: tuple[CheckSpec, ...]
    resolutions: tuple[Resolution, ...]
    escalation: str  # a team of [escalation]
    escalate_when: str
    origin: str  # "built-in" or the file it came from


@dataclass(frozen=True)
class SymptomCatalog:
    symptoms: tuple[Symptom, ...]

    def find(self, name: str) -> Symptom | None:
        """By id or title, case and spacing ignored: "High API latency", "high-api-latency"."""
        wanted = _normal(name)
        for symptom in self.symptoms:
            if wanted in (_normal(symptom.id), _normal(symptom.title)):
                return symptom
        return None

    def suggestions(self, name: str) -> list[str]:
        titles = [s.title for s in self.symptoms]
        return difflib.get_close_matches(name, titles, n=3, cutoff=0.4)


def _normal(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


def load_catalog(
    config: Config, directories: list[Path] | None = None
) -> tuple[SymptomCatalog, list[Problem]]:
    """The built-ins, then every `*.toml` in `directories` (by default `symptom_dirs(config)`).

    A bad file is left out and its problems returned (file:line: key: reason):
    one operator's typo must not take the wizard away in an incident.
    """
    text = resources.files(__package__).joinpath(BUILTIN_NAME).read_text(encoding="utf-8")
    builtins = parse_data(text, BUILTIN_NAME, lambda t: _read_file(t, config, "built-in"))
    by_id = {s.id: s for s in builtins}
    problems: list[Problem] = []
    for directory in symptom_dirs(config) if directories is None else directories:
        for path in sorted(directory.glob("*.toml")):
            try:
                symptoms = load_data(path, lambda t, p=path: _read_file(t, config, str(p)))
            except DataFileError as error:
                problems += error.problems
                continue
            by_id.update((s.id, s) for s in symptoms)
    return SymptomCatalog(tuple(by_id.values())), problems


def symptom_dirs(config: Config) -> list[Path]:
    """`symptoms/` beside the configuration file, and in the user config dir."""
    from lessay_console.locations import user_config_file

    candidates = [user_config_file().parent / "symptoms"]
    if config.source is not None:
        candidates.insert(0, config.source.parent / "symptoms")
    seen: list[Path] = []
    for directory in candidates:
        if directory.is_dir() and directory.resolve() not in [d.resolve() for d in seen]:
            seen.append(directory)
    return seen


def _read_file(root: TableReader, config: Config, origin: str) -> list[Symptom]:
    table = root.table("symptom")
    if table is None:
        root.problem("symptom", "is required: one or more [symptom.ID] tables")
        return []
    symptoms = []
    for symptom_id, t in table.subtables():
        if not _ID.match(symptom_id):
            t.problem(None, f"the id {symptom_id!r} must be lower-case letters, digits and -")
        symptoms.append(_read_symptom(symptom_id, t, config, origin))
    return symptoms


def _read_symptom(symptom_id: str, t: TableReader, config: Config, origin: str) -> Symptom:
    title = t.string("title", symptom_id, required=True)
    alerts = t.string_list("alerts")
    for metric in alerts:
        if metric not in METRICS:
            hint = difflib.get_close_matches(metric, METRICS, n=1)
            t.problem(
                "alerts",
                f"no such metric {metric!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
    escalation = t.string("escalation", "", required=True)
    if escalation and escalation not in config.escalation:
        known = ", ".join(config.escalation)
        t.problem(
            "escalation",
            f"no team {escalation!r} in the configuration (known: {known}); "
            f'add [escalation."{escalation}"] with its contact',
        )
    checks = []
    for index, check_table in enumerate(t.tables("check", what=f"[[symptom.{symptom_id}.check]]")):
        spec = read_check(check_table, f"check-{index + 1}")
        if spec is not None:
            checks.append(spec)
    ids = [c.id for c in checks]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        t.problem("check", f"two checks have the id {duplicate!r}; give each its own id")
    resolutions = [
        _read_resolution(r)
        for r in t.tables("resolution", what=f"[[symptom.{symptom_id}.resolution]]")
    ]
    symptom = Symptom(
        id=symptom_id,
        title=title,
        description=t.string("description", ""),
        alerts=alerts,
        checks=tuple(checks),
        resolutions=tuple(resolutions),
        escalation=escalation,
        escalate_when=t.string("escalate_when", ""),
        origin=origin,
    )
    t.finish()
    return symptom


def _read_resolution(t: TableReader) -> Resolution:
    title = t.string("title", "", required=True)
    steps = t.string_list("steps")
    if not steps:
        t.problem("steps", 'is required: a list of instructions such as ["Read ...", "Then ..."]')
    command = t.string_list("command")
    if t.has("command") and not command:
        t.problem("command", 'must be a non-empty argv list such as ["systemctl", "restart", "x"]')
    resolution = Resolution(
        title=title,
        steps=steps,
        command=command,
        command_title=t.string("command_title", " ".join(command)),
        dangerous=t.boolean("dangerous", False),
        timeout=t.duration("timeout", 120.0, minimum=0.1),
    )
    t.finish()
    return resolution
