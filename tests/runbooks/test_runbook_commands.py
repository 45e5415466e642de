"""What `runbook list | show | check` and the dry run print, and `resolve_command` under them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessay_console.config import Config
from lessay_console.runbooks.commands import (
    check_runbook_file,
    dry_run,
    find_runbook,
    list_runbooks,
    show_runbook,
)
from lessay_console.runbooks.loader import load_runbooks, parse_runbook
from lessay_console.runbooks.model import CommandSpec, Runbook
from lessay_console.runbooks.resolve import (
    fill,
    param_values,
    placeholders,
    resolve_command,
)

DEPLOY = ("deployctl", "--version", "{version}", "--percent", "{percent}")
SITE = Config(commands={"deploy": DEPLOY, "migrate": ("migrate", "--to", "{version}")})


class Printed:
    """Collects what a command prints, as the CLI's `click.echo` would show it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def builtin(runbook_id: str, config: Config = SITE) -> Runbook:
    runbooks, _ = load_runbooks(config, directories=[])
    found = find_runbook(runbooks, runbook_id)
    assert found is not None
    return found


# -- placeholders and resolve_command --------------------------------------------
def test_placeholders_are_names_in_braces_and_double_braces_escape() -> None:
    assert placeholders("{a} {{b}} {c_1} {not a name} {}") == ["a", "c_1"]
    assert fill("{{version}} is {version}", {"version": "2.5.0"}) == "{version} is 2.5.0"
    assert fill("{unknown} stays", {}) == "{unknown} stays"


def test_a_configured_named_command_is_filled() -> None:
    resolved = resolve_command(
        CommandSpec(named="deploy"), SITE, {"version": "2.5.0", "percent": "10"}
    )
    assert resolved.argv == ("deployctl", "--version", "2.5.0", "--percent", "10")
    assert resolved.manual_reason is None
    assert resolved.display == "deployctl --version 2.5.0 --percent 10"


def test_an_unconfigured_named_command_is_done_by_hand() -> None:
    values = {"version": "2.5.0", "run_id": "r1", "operator": "alice"}
    resolved = resolve_command(CommandSpec(named="rollback"), SITE, values)
    assert resolved.argv is None
    assert resolved.manual_reason == "not configured: [commands] has no 'rollback'"
    assert resolved.display == "by hand: rollback (version=2.5.0)"


def test_an_argv_is_filled_per_element_with_escapes() -> None:
    spec = CommandSpec(argv=("echo", "{{version}}", "v{version}", '{"json": 1}'))
    resolved = resolve_command(spec, Config(), {"version": "2.5.0"})
    assert resolved.argv == ("echo", "{version}", "v2.5.0", '{"json": 1}')
    # a brace word without a comma is literal in a shell: left unquoted, read as written
    assert resolved.display == "echo {version} v2.5.0 '{\"json\": 1}'"


def test_a_value_containing_braces_is_not_expanded_again() -> None:
    spec = CommandSpec(argv=("tag", "{version}", "{percent}"))
    resolved = resolve_command(spec, Config(), {"version": "{percent}", "percent": "10"})
    assert resolved.argv == ("tag", "{percent}", "10")


def test_a_placeholder_without_a_value_is_never_run_literally() -> None:
    resolved = resolve_command(CommandSpec(named="deploy"), SITE, {"version": "2.5.0"})
    assert resolved.argv is None
    assert resolved.manual_reason == "no value for {percent}"
    assert resolved.display == "by hand: deployctl --version 2.5.0 --percent {percent}"


def test_the_display_masks_credentials_the_argv_keeps() -> None:
    spec = CommandSpec(argv=("curl", "https://bob:hunter2@deploy.example/go"))
    resolved = resolve_command(spec, Config(), {})
    assert resolved.argv == ("curl", "https://bob:hunter2@deploy.example/go")
    assert "hunter2" not in resolved.display and "bob:***@" in resolved.display


def test_param_values_defaults_patterns_and_unknown_names() -> None:
    runbook = parse_runbook(
        '[runbook]\nid = "r"\ntitle = "R"\n'
        '[[param]]\nname = "version"\nprompt = "Version"\npattern = "\\\\d+"\n'
        '[[param]]\nname = "env"\nprompt = "Env"\ndefault = "staging"\n'
        '[[step]]\ntitle = "S"\nkind = "manual"\n',
        "r.toml",
        Config(),
    )
    assert param_values(runbook, {"version": "7"}) == ({"version": "7", "env": "staging"}, [])
    _, problems = param_values(runbook, {"version": "seven", "colour": "red"})
    assert problems == [
        "'colour' is not a parameter of r",
        "version: 'seven' does not match \\d+",
    ]
    assert param_values(runbook, {})[1] == ["version: a value is required (Version)"]


# -- dry run -------------------------------------------------------------------------
def test_dry_run_prints_every_command_in_order_with_parameters_filled() -> None:
    printed = Printed()
    code = dry_run(SITE, builtin("version-upgrade"), {"version": "2.5.0"}, printed)
    assert code == 0
    commands = [line.strip() for line in printed.lines if line.startswith("   ")]
    assert [line for line in commands if "$" in line or "by hand" in line] == [
        "by hand: backup_snapshot (version=2.5.0)  "
        "# not configured: [commands] has no 'backup_snapshot'",
        "by hand: drain (version=2.5.0)  # not configured: [commands] has no 'drain'",
        "stage 10 %: $ deployctl --version 2.5.0 --percent 10",
        "on abort: by hand: rollback (version=2.5.0, percent={percent})  "
        "# not configured: [commands] has no 'rollback'",
        "$ migrate --to 2.5.0",
        "by hand: smoke_test (version=2.5.0)  # not configured: [commands] has no 'smoke_test'",
        "stage 25 %: $ deployctl --version 2.5.0 --percent 25",
        "stage 50 %: $ deployctl --version 2.5.0 --percent 50",
        "stage 100 %: $ deployctl --version 2.5.0 --percent 100",
        "on abort: by hand: rollback (version=2.5.0, percent={percent})  "
        "# not configured: [commands] has no 'rollback'",
    ]
    assert printed.lines[:2] == [
        "# dry run of Version Upgrade (version-upgrade): nothing is run",
        "# parameters: version=2.5.0",
    ]
    assert "6. Run migration scripts  [command, dangerous: asks for confirmation]" in printed.lines
    assert "   watch 1h: every metric; fails on critical" in printed.lines
    assert "     then verify within 5m: health (http_health), alerts" in printed.lines


def test_dry_run_shows_engine_values_as_placeholders_and_read_only() -> None:
    config = Config(
        commands={"traffic": ("lbctl", "{percent}", "--by", "{operator}")}, read_only=True
    )
    printed = Printed()
    assert dry_run(config, builtin("recovery", config), {}, printed) == 0
    assert "# this environment is read-only: a run here would execute none of these" in (
        printed.lines
    )
    assert "   stage 50 %: $ lbctl 50 --by {operator}" in printed.lines


def test_dry_run_refuses_bad_parameters_and_prints_no_command() -> None:
    printed, errors = Printed(), Printed()
    code = dry_run(SITE, builtin("patch-management"), {"version": "2.5"}, printed, errors)
    assert code == 2
    assert printed.lines == []
    assert errors.lines == ["lessay-console: version: '2.5' does not match \\d+\\.\\d+\\.\\d+"]


# -- runbook check FILE -------------------------------------------------------------
GOOD = """\
[runbook]
id = "cache-flush"
title = "Cache Flush"

[[step]]
title = "Flush"
kind = "command"
command = "flush_cache"

[[step]]
title = "Deploy"
kind = "rollout"
stages = [50, 100]
command = "deploy"
"""


def test_check_accepts_a_good_file_with_notes_on_unconfigured_commands(tmp_path: Path) -> None:
    path = tmp_path / "flush.toml"
    path.write_text(GOOD, encoding="utf-8")
    site = Config(commands={"deploy": ("deployctl", "--percent", "{percent}")})
    printed, errors = Printed(), Printed()
    assert check_runbook_file(path, site, printed, errors) == 0
    assert errors.lines == []
    assert printed.lines == [
        f"{path}: OK: cache-flush (Cache Flush), 1 phase, 2 steps",
        "note: [commands] flush_cache is not in the configuration: done by hand in 'Flush'",
    ]
    configured = Config(commands={**site.commands, "flush_cache": ("redis-cli", "FLUSHALL")})
    quiet = Printed()
    assert check_runbook_file(path, configured, quiet, errors) == 0
    assert quiet.lines == [f"{path}: OK: cache-flush (Cache Flush), 1 phase, 2 steps"]


def test_check_notes_placeholders_the_runbook_cannot_fill(tmp_path: Path) -> None:
    path = tmp_path / "flush.toml"
    path.write_text(GOOD, encoding="utf-8")
    printed = Printed()
    assert check_runbook_file(path, SITE, printed, Printed()) == 0
    # deploy uses {version}: this runbook declares no such parameter
    assert (
        "note: [commands] deploy uses {version}, which this runbook gives no value: done by hand"
        in (printed.lines)
    )


def test_check_notes_a_file_that_replaces_a_builtin(tmp_path: Path) -> None:
    path = tmp_path / "recovery.toml"
    path.write_text(GOOD.replace('"cache-flush"', '"recovery"'), encoding="utf-8")
    printed = Printed()
    assert check_runbook_file(path, SITE, printed, Printed()) == 0
    assert "note: in a runbooks/ directory, this replaces the built-in 'recovery'" in printed.lines


def test_check_refuses_a_bad_file_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        GOOD.replace("stages = [50, 100]", "stages = [100, 50]").replace(
            'kind = "command"', 'kind = "commnd"'
        ),
        encoding="utf-8",
    )
    printed, errors = Printed(), Printed()
    assert check_runbook_file(path, SITE, printed, errors) == 2
    assert printed.lines == []
    assert errors.lines == [
        f"{path}:7: step[0].kind: no such step kind 'commnd'; did you mean 'command'?",
        f"{path}:13: step[1].stages: must be in ascending order: 50 comes after 100",
        "2 problems found",
    ]


def test_check_refuses_a_syntax_error_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[runbook]\nid = "x\n', encoding="utf-8")
    errors = Printed()
    assert check_runbook_file(path, SITE, Printed(), errors) == 2
    assert errors.lines[0].startswith(f"{path}:2:")
    assert "TOML syntax error" in errors.lines[0]
    assert errors.lines[-1] == "1 problem found"
    missing = Printed()
    assert check_runbook_file(tmp_path / "absent.toml", SITE, Printed(), missing) == 2
    assert missing.lines[0].startswith(f"{tmp_path / 'absent.toml'}: cannot be read")


# -- runbook list / show ---------------------------------------------------------------
@pytest.fixture
def site_with_runbooks(tmp_path: Path) -> Config:
    """A configuration file with a runbooks/ directory beside it: one good file, one bad."""
    directory = tmp_path / "site" / "runbooks"
    directory.mkdir(parents=True)
    (directory / "flush.toml").write_text(GOOD, encoding="utf-8")
    (directory / "broken.toml").write_text('[runbook]\nid = "Broken"\n', encoding="utf-8")
    return Config(commands=SITE.commands, source=tmp_path / "site" / "lessay-console.toml")


def test_list_shows_builtins_then_the_sites_with_origin(site_with_runbooks: Config) -> None:
    printed, errors = Printed(), Printed()
    assert list_runbooks(site_with_runbooks, printed, errors) == 0
    rows = [line.split() for line in printed.lines[1:]]
    assert [(row[0], row[-2]) for row in rows] == [
        ("patch-management", "5"),
        ("version-upgrade", "10"),
        ("recovery", "6"),
        ("cache-flush", "2"),
    ]
    assert rows[0][-1] == "built-in"
    assert rows[3][-1] == str(site_with_runbooks.source.parent / "runbooks" / "flush.toml")
    broken = site_with_runbooks.source.parent / "runbooks" / "broken.toml"
    assert f"lessay-console: runbook file left out: {broken}:2: runbook.id:" in errors.text


def test_show_prints_steps_with_commands_as_templates() -> None:
    printed = Printed()
    assert show_runbook(SITE, "Version upgrade", printed) == 0
    text = printed.text
    assert printed.lines[0] == "Version Upgrade (version-upgrade)"
    assert "  5. Deploy new version to 10% of nodes  [rollout 10 %]" in printed.lines
    assert "       each stage deploy: deployctl --version {version} --percent {percent}" in text
    assert "       on abort  rollback: not configured: done by hand" in text
    assert "       runs      migrate: migrate --to {version}" in text
    assert "       runs      drain: not configured: done by hand" in text
    assert "  {version}  Version to deploy (matching \\d+\\.\\d+\\.\\d+)" in text
    assert "Run the database migrations of {version}." in text  # instructions, unfilled
    assert [line for line in printed.lines if line in VERSION_UPGRADE_PHASES] == [
        *VERSION_UPGRADE_PHASES
    ]


VERSION_UPGRADE_PHASES = ["Preparation", "Deployment", "Verification"]


def test_show_an_unknown_runbook_suggests_one() -> None:
    printed, errors = Printed(), Printed()
    assert show_runbook(SITE, "recovry", printed, errors) == 2
    assert printed.lines == []
    assert errors.lines == [
        "lessay-console: no runbook 'recovry'; did you mean 'recovery'? "
        "(lessay-console runbook list)"
    ]
