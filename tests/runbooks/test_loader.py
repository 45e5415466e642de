"""Runbook files read into the model; every problem refused with file, line, key and reason."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from lessay_console.config import Config
from lessay_console.config.datafile import DataFileError
from lessay_console.runbooks.loader import (
    load_runbook_file,
    load_runbooks,
    parse_runbook,
    runbook_dirs,
)

HEADER = """\
[runbook]
id = "site-upgrade"
title = "Site Upgrade"
description = "Ours."
guide = "3.2"

[[param]]
name = "version"
prompt = "Version to deploy"
pattern = '\\d+\\.\\d+\\.\\d+'
default = "1.0.0"
"""


def runbook_text(steps: str, header: str = HEADER) -> str:
    """A runbook of one phase whose steps are `steps` (TOML, dedented)."""
    return header + '\n[[phase]]\ntitle = "Only"\n\n' + textwrap.dedent(steps)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line where `fragment` occurs (its `occurrence`-th time)."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return found[occurrence - 1]


def problems_of(text: str) -> list[str]:
    with pytest.raises(DataFileError) as caught:
        parse_runbook(text, "rb.toml", Config())
    return [str(problem) for problem in caught.value.problems]


def step(kind: str, extra: str = "", title: str = "A step") -> str:
    return f'[[phase.step]]\ntitle = "{title}"\nkind = "{kind}"\n{extra}\n'


# -- a valid file --------------------------------------------------------------
def test_every_step_kind_is_read_into_the_model() -> None:
    text = runbook_text(
        step("manual", 'note = "required"\ninstructions = "Tell them about {version}."')
        + step("check", 'checks = [{ kind = "http_health" }, { kind = "alerts" }]', title="C")
        + step(
            "command",
            'argv = ["deployctl", "{version}", "{run_id}", "{operator}"]\n'
            'dangerous = true\ntimeout = "10m"\nexpect_exit = 3',
            title="D",
        )
        + step("watch", 'duration = "1h"\nalerts = ["api_error_rate"]\nfail_on = "warning"', "W")
        + step(
            "rollout",
            'stages = [25, 50, 100]\ncommand = "deploy"\n'
            'verify = [{ kind = "http_health" }]\nverify_within = "2m"\n'
            'rollback_argv = ["undeploy", "{percent}"]',
            title="Roll it out",
        )
    )
    runbook = parse_runbook(text, "rb.toml", Config())
    assert (runbook.id, runbook.title, runbook.description, runbook.guide) == (
        "site-upgrade",
        "Site Upgrade",
        "Ours.",
        "3.2",
    )
    assert runbook.origin == "rb.toml"
    assert runbook.digest == hashlib.sha256(text.encode()).hexdigest()
    (param,) = runbook.params
    assert (param.name, param.prompt, param.default) == ("version", "Version to deploy", "1.0.0")
    assert param.pattern == r"\d+\.\d+\.\d+"
    manual, check, command, watch, rollout = runbook.steps
    assert manual.kind == "manual" and manual.note == "required"
    assert manual.instructions == "Tell them about {version}."
    assert [(c.id, c.kind) for c in check.checks] == [
        ("check-1", "http_health"),
        ("check-2", "alerts"),
    ]
    assert command.command is not None
    assert command.command.argv == ("deployctl", "{version}", "{run_id}", "{operator}")
    assert command.command.named is None
    assert command.command.dangerous is True
    assert command.command.timeout == 600.0
    assert command.command.expect_exit == 3
    assert watch.watch is not None
    assert (watch.watch.duration, watch.watch.alerts, watch.watch.fail_on) == (
        3600.0,
        ("api_error_rate",),
        "warning",
    )
    assert rollout.rollout is not None
    assert rollout.rollout.stages == (25.0, 50.0, 100.0)
    assert rollout.rollout.command.named == "deploy"
    assert rollout.rollout.verify_within == 120.0
    assert [c.kind for c in rollout.rollout.verify] == ["http_health"]
    assert rollout.rollout.rollback is not None
    assert rollout.rollout.rollback.argv == ("undeploy", "{percent}")
    assert rollout.id == "roll-it-out"  # made from the title


def test_defaults_of_a_bare_step() -> None:
    runbook = parse_runbook(runbook_text(step("manual")), "rb.toml", Config())
    (only,) = runbook.steps
    assert (only.id, only.note, only.instructions) == ("a-step", "optional", "")
    assert only.command is None and only.watch is None and only.rollout is None


def test_a_runbook_without_phases_is_one_phase_under_its_title() -> None:
    text = HEADER + '\n[[step]]\ntitle = "First"\nkind = "manual"\n\n'
    text += '[[step]]\ntitle = "Second"\nkind = "command"\ncommand = "deploy"\n'
    runbook = parse_runbook(text, "rb.toml", Config())
    assert [p.title for p in runbook.phases] == ["Site Upgrade"]
    assert [s.id for s in runbook.steps] == ["first", "second"]


def test_a_named_command_missing_from_the_config_is_not_an_error() -> None:
    text = runbook_text(step("command", 'command = "nowhere_configured"'))
    runbook = parse_runbook(text, "rb.toml", Config(commands={}))
    assert runbook.steps[0].command is not None
    assert runbook.steps[0].command.named == "nowhere_configured"


def test_escaped_braces_are_not_placeholders() -> None:
    text = runbook_text(step("command", 'argv = ["echo", "{{literal}}"]'))
    runbook = parse_runbook(text, "rb.toml", Config())
    assert runbook.steps[0].command is not None
    assert runbook.steps[0].command.argv == ("echo", "{{literal}}")  # filled only when run


# -- every error, located ---------------------------------------------------------
def test_unknown_key_with_a_suggestion() -> None:
    text = runbook_text(step("manual", 'instuctions = "Do it."'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'instuctions')}: phase[0].step[0].instuctions: "
        "unknown key; did you mean 'instructions'?"
    ]


def test_unknown_top_level_table_with_a_suggestion() -> None:
    text = runbook_text(step("manual")) + '\n[[params]]\nname = "x"\nprompt = "X"\n'
    (problem,) = problems_of(text)
    assert problem.startswith(f"rb.toml:{line_of(text, '[[params]]')}: params: unknown key")
    assert "did you mean 'param'?" in problem


@pytest.mark.parametrize(
    ("kind", "extra", "key", "owners"),
    [
        ("manual", "stages = [10, 100]", "stages", "rollout"),
        ("watch", 'duration = "1h"\ndangerous = true', "dangerous", "command and rollout"),
        ("check", 'checks = [{ kind = "alerts" }]\nduration = "1h"', "duration", "watch"),
        ("command", 'argv = ["true"]\nverify = []', "verify", "rollout"),
        ("rollout", 'stages = [100]\nargv = ["x"]\nchecks = []', "checks", "check"),
    ],
)
def test_a_field_of_another_kind_is_named(kind: str, extra: str, key: str, owners: str) -> None:
    text = runbook_text(step(kind, extra))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, key + ' =')}: phase[0].step[0].{key}: "
        f"belongs to {owners} steps, not to a {kind} step"
    ]


def test_unknown_step_kind_with_a_suggestion() -> None:
    text = runbook_text(step("comand", 'argv = ["true"]'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'kind =')}: phase[0].step[0].kind: "
        "no such step kind 'comand'; did you mean 'command'?"
    ]


def test_a_missing_kind_lists_the_kinds() -> None:
    text = runbook_text('[[phase.step]]\ntitle = "No kind"\n')
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, '[[phase.step]]')}: phase[0].step[0].kind: "
        "is required: one of manual, check, command, watch, rollout"
    ]


def test_duplicate_step_ids_explicit_and_made_from_titles() -> None:
    text = runbook_text(
        step("manual", 'id = "same"', title="One")
        + step("manual", 'id = "same"', title="Two")
        + step("manual", title="Twice")
        + step("manual", title="Twice")
    )
    second = line_of(text, "same", 2)
    assert problems_of(text) == [
        f"rb.toml:{second}: phase[0].step[1].id: "
        "another step has the id 'same'; give each step its own id",
        f"rb.toml:{line_of(text, 'Twice', 2)}: phase[0].step[3].title: "
        "another step has the id 'twice'; give each step its own id",
    ]


def test_step_ids_are_unique_across_phases() -> None:
    text = runbook_text(step("manual", title="Check"))
    text += '\n[[phase]]\ntitle = "Later"\n\n' + step("manual", title="Check")
    (problem,) = problems_of(text)
    assert problem.startswith(f"rb.toml:{line_of(text, 'Check', 2)}: phase[1].step[0].title:")


def test_undeclared_placeholders_in_argv_and_instructions() -> None:
    text = runbook_text(
        step("command", 'argv = ["deployctl", "{verison}"]\ninstructions = "Go {who}."')
    )
    declared = "({operator}, {run_id}, {version})"
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'argv =')}: phase[0].step[0].argv: "
        f"{{verison}} is not a declared parameter {declared}; did you mean {{version}}?",
        f"rb.toml:{line_of(text, 'instructions =')}: phase[0].step[0].instructions: "
        f"{{who}} is not a declared parameter {declared}; declare it as a [[param]]",
    ]


def test_percent_belongs_to_rollouts_only() -> None:
    rollout = step(
        "rollout",
        'stages = [50, 100]\nargv = ["d", "{percent}"]\nrollback_argv = ["u", "{percent}"]',
    )
    parse_runbook(runbook_text(rollout), "rb.toml", Config())  # no problem
    text = runbook_text(step("command", 'argv = ["d", "{percent}"]'))
    (problem,) = problems_of(text)
    assert problem.startswith(
        f"rb.toml:{line_of(text, 'argv')}: phase[0].step[0].argv: {{percent}}"
    )


@pytest.mark.parametrize(
    ("stages", "reason"),
    [
        ("[50, 25, 100]", "must be in ascending order: 25 comes after 50"),
        ("[10, 10]", "must be in ascending order: 10 comes after 10"),
        ("[0, 100]", "0 is not a percentage in (0, 100]"),
        ("[50, 150]", "150 is not a percentage in (0, 100]"),
        ("[]", "must be a non-empty list of percentages such as [10, 25, 50, 100]"),
        ('["10%"]', "must be a non-empty list of percentages such as [10, 25, 50, 100]"),
    ],
)
def test_bad_stages(stages: str, reason: str) -> None:
    text = runbook_text(step("rollout", f'stages = {stages}\ncommand = "deploy"'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'stages')}: phase[0].step[0].stages: {reason}"
    ]


def test_unknown_metric_with_a_suggestion() -> None:
    text = runbook_text(step("watch", 'duration = "1h"\nalerts = ["api_error_rat", "cpu"]'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'alerts')}: phase[0].step[0].alerts: "
        "no such metric 'api_error_rat'; did you mean 'api_error_rate'?"
    ]


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ('duration = "0s"', "duration", "must be longer than 0s"),
        ("", "duration", 'is required: how long to watch, such as "1h" or "24h"'),
        ('duration = "1h"\nfail_on = "error"', "fail_on", 'must be "warning" or "critical"'),
    ],
)
def test_bad_watch(extra: str, key: str, reason: str) -> None:
    (problem,) = problems_of(runbook_text(step("watch", extra)))
    assert f"phase[0].step[0].{key}: {reason}" in problem


def test_command_and_argv_are_exclusive_and_one_is_required() -> None:
    text = runbook_text(
        step("command", 'command = "deploy"\nargv = ["deployctl"]', title="Both")
        + step("command", 'timeout = "5m"', title="Neither")
        + step("rollout", "stages = [100]\nargv = []", title="Empty")
    )
    both = line_of(text, "deployctl")
    assert problems_of(text) == [
        f"rb.toml:{both}: phase[0].step[0].argv: "
        "give either command (a name of [commands]) or argv, not both",
        f"rb.toml:{line_of(text, 'Neither') - 1}: phase[0].step[1].command: "
        "is required: a name of [commands], or argv = [...]",
        f"rb.toml:{line_of(text, 'argv = []')}: phase[0].step[2].argv: "
        'must be a non-empty argv list such as ["deployctl", "{version}"]',
    ]


def test_bad_command_options() -> None:
    text = runbook_text(
        step("command", 'argv = ["x"]\ntimeout = "soon"\nexpect_exit = 2.5\ndangerous = "yes"')
    )
    problems = "\n".join(problems_of(text))
    assert f":{line_of(text, 'timeout')}: phase[0].step[0].timeout: 'soon' is not a duration" in (
        problems
    )
    assert f":{line_of(text, 'expect_exit')}: phase[0].step[0].expect_exit: must be a whole" in (
        problems
    )
    assert f":{line_of(text, 'dangerous')}: phase[0].step[0].dangerous: must be true or false" in (
        problems
    )


def test_a_bad_check_is_located_at_its_list() -> None:
    text = runbook_text(step("check", 'checks = [{ kind = "http_helth" }, { kind = "alerts" }]'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'checks')}: phase[0].step[0].checks[0].kind: "
        "no such check kind 'http_helth'; did you mean 'http_health'?"
    ]


def test_a_check_step_needs_checks_and_their_ids_are_unique() -> None:
    text = runbook_text(
        step("check", title="None")
        + step("check", 'checks = [{ id = "a", kind = "alerts" }, { id = "a", kind = "alerts" }]')
    )
    problems = problems_of(text)
    assert problems[0].startswith(f"rb.toml:{line_of(text, 'None') - 1}: phase[0].step[0].checks:")
    assert "is required" in problems[0]
    checks = line_of(text, "checks =")
    assert problems[1] == (
        f"rb.toml:{checks}: phase[0].step[1].checks: "
        "two checks have the id 'a'; give each its own id"
    )


def test_note_rule_and_ids_are_checked() -> None:
    text = runbook_text(step("manual", 'id = "Bad_Id"\nnote = "mandatory"'))
    assert problems_of(text) == [
        f"rb.toml:{line_of(text, 'Bad_Id')}: phase[0].step[0].id: "
        "'Bad_Id' must be lower-case letters, digits and -",
        f"rb.toml:{line_of(text, 'note =')}: phase[0].step[0].note: "
        "must be one of none, optional, required, not 'mandatory'",
    ]


def test_bad_params() -> None:
    header = HEADER.replace('name = "version"', 'name = "percent"')
    header += '\n[[param]]\nname = "build"\nprompt = "Build"\npattern = "[0-9"\n'
    header += '\n[[param]]\nname = "tier"\nprompt = "Tier"\npattern = "gold|silver"\n'
    header += 'default = "bronze"\n'
    text = runbook_text(step("manual"), header=header)
    problems = problems_of(text)
    assert problems[0] == (
        f"rb.toml:{line_of(text, 'percent')}: param[0].name: "
        "{percent} is filled by the console; choose another name"
    )
    assert problems[1].startswith(
        f"rb.toml:{line_of(text, '[0-9')}: param[1].pattern: is not a regular expression"
    )
    assert problems[2] == (
        f"rb.toml:{line_of(text, 'bronze')}: param[2].default: "
        "'bronze' does not match the pattern gold|silver"
    )


def test_runbook_table_and_phases_are_required() -> None:
    assert problems_of(
        '[[phase]]\ntitle = "P"\n[[phase.step]]\ntitle = "S"\nkind = "manual"\n'
    ) == ['rb.toml: runbook: is required: a [runbook] table with id = "..." and title']
    (problem,) = problems_of('[runbook]\nid = "x"\ntitle = "X"\n')
    assert problem.startswith("rb.toml: phase: is required: at least one [[phase]]")


def test_phases_and_flat_steps_do_not_mix() -> None:
    text = runbook_text(step("manual")) + '\n[[step]]\ntitle = "Flat"\nkind = "manual"\n'
    (problem,) = problems_of(text)
    assert problem == (
        f"rb.toml:{line_of(text, '[[step]]')}: step: "
        "a runbook has [[phase]] tables or [[step]] tables, not both"
    )


def test_toml_syntax_error_with_line_and_column() -> None:
    text = '[runbook]\nid = "x"\ntitle = "unterminated\n'
    assert problems_of(text) == ["rb.toml:3:22: TOML syntax error: Illegal character '\\n'"]


def test_every_problem_at_once_in_file_order() -> None:
    text = runbook_text(
        step("manual", "stages = [1]", title="One")
        + step("watch", 'duration = "1h"\nalerts = ["nope"]', title="Two")
    ).replace('id = "site-upgrade"', 'id = "Site Upgrade"')
    lines = [int(p.split(":")[1]) for p in problems_of(text)]
    assert len(lines) == 3
    assert lines == sorted(lines)


# -- files and directories ------------------------------------------------------------
def test_a_file_is_read_with_its_path_as_origin(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    text = runbook_text(step("manual"))
    path.write_text(text, encoding="utf-8")
    runbook = load_runbook_file(path, Config())
    assert runbook.origin == str(path)
    assert runbook.digest == hashlib.sha256(text.encode()).hexdigest()


def test_an_unreadable_file_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(DataFileError) as caught:
        load_runbook_file(tmp_path / "absent.toml", Config())
    assert str(caught.value).startswith(f"{tmp_path / 'absent.toml'}: cannot be read")


def test_a_user_runbook_replaces_the_builtin_of_its_id(tmp_path: Path) -> None:
    ours = HEADER.replace('"site-upgrade"', '"version-upgrade"').replace(
        '"Site Upgrade"', '"Our Upgrade"'
    )
    (tmp_path / "upgrade.toml").write_text(runbook_text(step("manual"), ours), encoding="utf-8")
    (tmp_path / "extra.toml").write_text(runbook_text(step("manual")), encoding="utf-8")
    runbooks, problems = load_runbooks(Config(), directories=[tmp_path])
    assert problems == []
    by_id = {r.id: r for r in runbooks}
    assert [r.id for r in runbooks] == [
        "patch-management",
        "version-upgrade",  # in the built-in's place
        "recovery",
        "site-upgrade",
    ]
    assert by_id["version-upgrade"].title == "Our Upgrade"
    assert by_id["version-upgrade"].origin == str(tmp_path / "upgrade.toml")
    assert by_id["site-upgrade"].origin == str(tmp_path / "extra.toml")
    assert by_id["recovery"].origin == "built-in"


def test_a_bad_user_file_is_left_out_with_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = runbook_text(step("rollout", 'stages = [50, 10]\ncommand = "deploy"')).replace(
        '"site-upgrade"', '"recovery"'
    )
    bad.write_text(text, encoding="utf-8")
    runbooks, problems = load_runbooks(Config(), directories=[tmp_path])
    assert [str(p) for p in problems] == [
        f"{bad}:{line_of(text, 'stages')}: phase[0].step[0].stages: "
        "must be in ascending order: 10 comes after 50"
    ]
    recovery = next(r for r in runbooks if r.id == "recovery")
    assert recovery.origin == "built-in"  # the bad file did not replace it


def test_runbook_dirs_beside_the_config_and_in_the_user_config_dir(tmp_path: Path) -> None:
    config_file = tmp_path / "etc" / "lessay-console.toml"
    beside = config_file.parent / "runbooks"
    user = tmp_path / "home" / ".config" / "lessay-console" / "runbooks"
    config = Config(source=config_file)
    assert runbook_dirs(config) == []  # neither exists yet
    beside.mkdir(parents=True)
    user.mkdir(parents=True)
    assert runbook_dirs(config) == [beside, user]
    (user / "extra.toml").write_text(runbook_text(step("manual")), encoding="utf-8")
    runbooks, _ = load_runbooks(config)
    assert "site-upgrade" in [r.id for r in runbooks]


# -- a choice made in one step, used by later ones ----------------------------
def test_a_chosen_backup_fills_later_steps_only() -> None:
    restore = 'argv = ["restore", "--from", "{backup}"]'
    text = runbook_text(
        step("manual", 'choose = "backup"', title="Pick")
        + step("command", restore, title="Restore")
    )
    pick, restored = parse_runbook(text, "rb.toml", Config()).steps
    assert pick.choose == "backup"
    assert restored.command is not None and restored.command.argv[-1] == "{backup}"
    before = runbook_text(
        step("command", restore, title="Restore") + step("manual", 'choose = "backup"')
    )
    assert any("{backup}" in p for p in problems_of(before))


def test_only_known_choices() -> None:
    text = runbook_text(step("manual", 'choose = "snapshot"'))
    [problem] = problems_of(text)
    assert f"rb.toml:{line_of(text, 'choose')}:" in problem
    assert "must be one of backup" in problem
    assert any(
        "belongs to manual steps" in p
        for p in problems_of(runbook_text(step("command", 'argv = ["x"]\nchoose = "backup"')))
    )
