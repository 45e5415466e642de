"""The `lessay-console` command line (DESIGN section 2).

Imports stay light at module level: the TUI, the demo backend and the
network libraries are imported by the command that needs them, so that
`--help` and the first frame come fast.
"""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lessay_console import __version__

if TYPE_CHECKING:
    from lessay_console.config import Config


class Fatal(click.ClickException):
    """An error the operator can fix: one line per cause, exit status 2, no traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        for line in self.format_message().splitlines():
            click.echo(f"lessay-console: {line}", err=True)


@dataclass(frozen=True)
class GlobalOptions:
    config: Path | None
    state_dir: Path | None
    operator: str | None
    demo: bool
    scenario: str | None
    war_room: bool = False
    low_bandwidth: bool = False
    read_only: bool = False


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file (default: $LESSAY_CONSOLE_CONFIG, ./lessay-console.toml, "
    "the user config dir, /etc/lessay-console/config.toml).",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the journal and the console log live (default: "
    "$LESSAY_CONSOLE_STATE_DIR, then the user state dir).",
)
@click.option("--operator", help="Who is at the console (default: $SUDO_USER, then $USER).")
@click.option("--demo", is_flag=True, help="Run on the built-in demo backend, whatever the config.")
@click.option("--scenario", help="Demo scenario to start in (with --demo).")
@click.option(
    "--war-room", is_flag=True, help="Start in the war-room view: big numbers for a shared screen."
)
@click.option(
    "--low-bandwidth",
    is_flag=True,
    help="For slow SSH links: no trend lines, a redraw every 5 s at most.",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Execute nothing: checks that only read still run, commands do not.",
)
@click.version_option(__version__, prog_name="lessay-console")
@click.pass_context
def main(
    ctx: click.Context,
    config_path: Path | None,
    state_dir: Path | None,
    operator: str | None,
    demo: bool,
    scenario: str | None,
    war_room: bool,
    low_bandwidth: bool,
    read_only: bool,
) -> None:
    """Operations console for the Lessay platform.

    With no command, opens the console on the configuration found, or on the
    built-in demo backend when there is none.
    """
    ctx.obj = GlobalOptions(
        config_path, state_dir, operator, demo, scenario, war_room, low_bandwidth, read_only
    )
    if ctx.invoked_subcommand is None:
        from lessay_console.launch import LaunchError, run_console

        try:
            ctx.exit(run_console(ctx.obj))
        except LaunchError as error:
            raise Fatal(str(error)) from None


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.pass_obj
def config_check(options: GlobalOptions) -> None:
    """Validate the configuration and print the effective one, secrets redacted.

    Exits 2 with every problem listed (file:line: key: reason).
    """
    from lessay_console.config import Config, ConfigError, find_config, load_config
    from lessay_console.config.render import render_config
    from lessay_console.locations import config_candidates

    try:
        found = find_config(options.config)
        loaded = load_config(found.path) if found else Config()
    except ConfigError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        count = len(error.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
        sys.exit(2)
    if found:
        click.echo(f"# configuration: {found.path} (from {found.origin}): OK")
    else:
        looked = ", ".join(str(c.path) for c in config_candidates(None))
        click.echo(f"# no configuration file found (looked at {looked});")
        click.echo("# built-in defaults from the maintenance guide; the console runs on the demo")
    click.echo("# secrets are shown as their references, never their values")
    click.echo(render_config(loaded), nl=False)


@main.command("demo-backend")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option("--scenario", default="normal", show_default=True, help="Scenario to start in.")
@click.option("--seed", default=1, show_default=True, help="Seed of the simulation.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep logs and backups here (default: a temporary directory, removed on exit).",
)
def demo_backend(host: str, port: int, scenario: str, seed: int, data_dir: Path | None) -> None:
    """Run the demo backend alone, in the foreground, until Ctrl-C."""
    from lessay_console.demo import SCENARIOS, DemoBackend, DemoBackendError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        backend = DemoBackend(host=host, port=port, scenario=scenario, seed=seed, data_dir=data_dir)
        backend.start()
    except DemoBackendError as error:
        raise Fatal(str(error)) from None
    click.echo(f"demo backend on {backend.url} (scenario {backend.scenario}); Ctrl-C stops it")
    click.echo(f"  health      {backend.url}/health")
    click.echo(f"  metrics     {backend.url}/metrics")
    click.echo(f"  scenario    {backend.url}/demo/scenario  ({', '.join(SCENARIOS)})")
    click.echo(f"  data        {backend.data_dir}")
    try:
        _wait_for_stop_signal()
    finally:
        backend.stop()
    click.echo("demo backend stopped")


@main.command()
@click.option(
    "--json", "as_json", is_flag=True, help="JSON for programs (JSON Lines with --watch)."
)
@click.option(
    "--watch",
    type=click.FloatRange(min=1.0),
    metavar="SECONDS",
    help="Keep collecting; evaluate and print every SECONDS until Ctrl-C.",
)
@click.pass_obj
def status(options: GlobalOptions, as_json: bool, watch: float | None) -> None:
    """Collect once, evaluate every threshold, print a table (or JSON).

    Exit status as Nagios plugins: 0 OK, 1 warning, 2 critical, 3 unknown
    (a metric without data). With no configuration, runs on the demo backend.
    """
    import asyncio
    from contextlib import ExitStack

    from lessay_console.status import run_status

    with ExitStack() as cleanup:
        config = _config_or_demo(options, cleanup)
        code = asyncio.run(run_status(config, as_json=as_json, watch=watch, echo=click.echo))
    sys.exit(code)


def _config_or_demo(options: GlobalOptions, cleanup: ExitStack) -> Config:
    """The configuration found, or one for a demo backend started here (and stopped by
    `cleanup`); a bad file is a Fatal error listing every problem."""
    from lessay_console.config import ConfigError, find_config, load_config

    try:
        found = None if options.demo else find_config(options.config)
        if found is not None:
            return load_config(found.path)
    except ConfigError as error:
        raise Fatal("\n".join(str(p) for p in error.problems)) from None
    from lessay_console.demo import DemoBackendError
    from lessay_console.demo.backend import DemoBackend
    from lessay_console.demo.settings import demo_config

    try:
        backend = DemoBackend(scenario=options.scenario or "normal")
        backend.start()
    except DemoBackendError as error:
        raise Fatal(str(error)) from None
    cleanup.callback(backend.stop)
    return demo_config(backend)


def _wait_for_stop_signal() -> signal.Signals:
    """Block until SIGINT, SIGTERM or SIGHUP, so that cleanup runs on each of them."""
    received: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: received.append(signal.Signals(number)))
    while not received:
        signal.pause()
    return received[0]


@main.group()
def rules() -> None:
    """Threshold rules."""


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def rules_test(options: GlobalOptions, files: tuple[Path, ...]) -> None:
    """Unit-test the thresholds on synthetic series, like `promtool test rules`.

    Each FILE is TOML: optional [thresholds.NAME] (else the configured ones),
    then [[tests]] with promtool series notation and the alerts expected at
    given times (format: `pydoc lessay_console.rulestest`). Exits 0 when all
    pass, 1 when an expectation fails, 2 for a bad file (every problem listed).
    """
    from lessay_console.rulestest import run_command

    sys.exit(run_command(files, options.config, sys.stdout, sys.stderr))


@main.group()
def journal() -> None:
    """The local journal of incidents and runbook runs."""


@journal.command("verify")
@click.pass_obj
def journal_verify(options: GlobalOptions) -> None:
    """Check the journal's hash chain: report any altered or missing event.

    Exits 0 when the chain is intact, 2 when events were altered or removed,
    3 when the journal cannot be read (none yet, not a journal, no permission).
    """
    from lessay_console.journal import JournalError, journal_path, verify
    from lessay_console.locations import state_dir

    path = journal_path(state_dir(options.state_dir))
    try:
        report = verify(path)
    except JournalError as error:
        click.echo(f"lessay-console: {error}", err=True)
        sys.exit(3)
    click.echo(report.render())
    sys.exit(0 if report.ok else 2)


@main.command()
@click.argument("symptom", required=False)
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--list", "list_symptoms", is_flag=True, help="List the symptoms and exit.")
@click.pass_obj
def diagnose(
    options: GlobalOptions, symptom: str | None, as_json: bool, list_symptoms: bool
) -> None:
    """Run a symptom's checks headless: findings, resolution, escalation.

    SYMPTOM is a title or id ("High API latency", high-api-latency). The
    session is recorded in the journal as an incident. Exit status: 2 when a
    check failed, 1 when one warned, 3 when one could not tell, else 0.
    """
    import asyncio

    from lessay_console.identity import current_operator
    from lessay_console.locations import state_dir
    from lessay_console.troubleshooting.diagnose import open_journal, run_diagnose
    from lessay_console.troubleshooting.symptoms import load_catalog

    with ExitStack() as cleanup:
        config = _config_or_demo(options, cleanup)
        catalog, problems = load_catalog(config)
        for problem in problems:
            click.echo(f"lessay-console: symptom file left out: {problem}", err=True)
        if list_symptoms or symptom is None:
            for known in catalog.symptoms:
                click.echo(f"{known.id:<26} {known.title}  ({known.escalation})")
            sys.exit(0 if list_symptoms else 2)
        chosen = catalog.find(symptom)
        if chosen is None:
            hints = catalog.suggestions(symptom)
            hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
            raise Fatal(f"no symptom {symptom!r}{hint} (lessay-console diagnose --list)")
        operator = current_operator(options.operator)
        journal = open_journal(
            state_dir(options.state_dir), operator, lambda m: click.echo(m, err=True)
        )
        if journal is not None:
            cleanup.callback(journal.close)
        code = asyncio.run(
            run_diagnose(
                config,
                catalog,
                chosen,
                journal=journal,
                operator=operator,
                read_only=options.read_only,
                as_json=as_json,
                echo=click.echo,
            )
        )
    sys.exit(code)


@main.group()
def incident() -> None:
    """Incidents recorded by the troubleshooting wizard and `diagnose`."""


@incident.command("list")
@click.pass_obj
def incident_list(options: GlobalOptions) -> None:
    """Recorded incidents, newest first."""
    from lessay_console.troubleshooting.records import list_incidents

    sys.exit(list_incidents(options.state_dir, click.echo, lambda m: click.echo(m, err=True)))


@incident.command("export")
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.pass_obj
def incident_export(options: GlobalOptions, incident_id: str, fmt: str) -> None:
    """Print an incident for the post-mortem: its checks, findings, actions and notes."""
    from lessay_console.troubleshooting.records import export_incident

    code = export_incident(
        options.state_dir, incident_id, fmt, click.echo, lambda m: click.echo(m, err=True)
    )
    sys.exit(code)


@main.command(
    "demo-ctl",
    # A helper the demo's [commands] run, not one of DESIGN section 2's fixed commands.
    hidden=True,
    # demo-ctl parses its own arguments (argparse, stdlib only, so it starts fast),
    # --help included.
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def demo_ctl(ctx: click.Context) -> None:
    """Site commands for the demo backend (deploy, rollback, backup-snapshot, ...)."""
    from lessay_console.demo.control import main as control_main

    sys.exit(control_main(ctx.args))


@main.group()
def runbook() -> None:
    """Guided runbooks: definitions, recorded runs, change records, validation."""


def _runbook_config(options: GlobalOptions, cleanup: ExitStack) -> Config:
    """The configuration found (or the guide's defaults); with --demo, the demo backend's."""
    from lessay_console.config import Config, ConfigError, find_config, load_config

    if options.demo:
        return _config_or_demo(options, cleanup)
    try:
        found = find_config(options.config)
        return load_config(found.path) if found else Config()
    except ConfigError as error:
        raise Fatal("\n".join(str(p) for p in error.problems)) from None


def _err(message: str) -> None:
    click.echo(message, err=True)


@runbook.command("list")
@click.pass_obj
def runbook_list(options: GlobalOptions) -> None:
    """Every runbook: the built-ins and the site's own."""
    from lessay_console.runbooks.commands import list_runbooks

    with ExitStack() as cleanup:
        sys.exit(list_runbooks(_runbook_config(options, cleanup), click.echo, _err))


@runbook.command("show")
@click.argument("name")
@click.pass_obj
def runbook_show(options: GlobalOptions, name: str) -> None:
    """A runbook's phases and steps, with the commands each step runs."""
    from lessay_console.runbooks.commands import show_runbook

    with ExitStack() as cleanup:
        sys.exit(show_runbook(_runbook_config(options, cleanup), name, click.echo, _err))


@runbook.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def runbook_check(options: GlobalOptions, file: Path) -> None:
    """Validate a runbook file without running it: exit 0, or 2 with every problem."""
    from lessay_console.runbooks.commands import check_runbook_file

    with ExitStack() as cleanup:
        sys.exit(check_runbook_file(file, _runbook_config(options, cleanup), click.echo, _err))


@runbook.command("dry-run")
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE")
@click.pass_obj
def runbook_dry_run(options: GlobalOptions, name: str, params: tuple[str, ...]) -> None:
    """Print every command the runbook would run, parameters filled in; run nothing."""
    from lessay_console.runbooks.commands import dry_run, find_runbook, runbook_suggestions
    from lessay_console.runbooks.loader import load_runbooks

    given = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise Fatal(f"--param {item!r}: write NAME=VALUE")
        given[key.strip()] = value
    with ExitStack() as cleanup:
        config = _runbook_config(options, cleanup)
        runbooks, _ = load_runbooks(config)
        found = find_runbook(runbooks, name)
        if found is None:
            hints = runbook_suggestions(runbooks, name)
            raise Fatal(f"no runbook {name!r}" + (f"; did you mean {hints[0]!r}?" if hints else ""))
        sys.exit(dry_run(config, found, given, click.echo, _err))


@runbook.command("runs")
@click.pass_obj
def runbook_runs(options: GlobalOptions) -> None:
    """Recorded runs, unfinished first: where each stands and who holds it."""
    from lessay_console.runbooks.records import list_runs

    with ExitStack() as cleanup:
        config = _runbook_config(options, cleanup)
        sys.exit(list_runs(options.state_dir, config, click.echo, _err))


@runbook.command("export")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.pass_obj
def runbook_export(options: GlobalOptions, run_id: str, fmt: str) -> None:
    """A run as a change record: who, when, each step's result, notes, commands, output."""
    from lessay_console.runbooks.records import export_run

    with ExitStack() as cleanup:
        config = _runbook_config(options, cleanup)
        sys.exit(export_run(options.state_dir, config, run_id, fmt, click.echo, _err))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON for programs.")
@click.pass_obj
def backups(options: GlobalOptions, as_json: bool) -> None:
    """Each backup kind against the schedule: last good backup, age, gaps, retention.

    Reads the catalog ([backups] directory, pgbackrest, walg) and, with [postgres],
    the replication lag. Exit status as `status`: 0 OK, 1 warning, 2 critical,
    3 when the catalog cannot be read. With no configuration, runs on the demo.
    """
    import asyncio

    from lessay_console.backups.command import run_backups

    with ExitStack() as cleanup:
        config = _config_or_demo(options, cleanup)
        code = asyncio.run(run_backups(config, as_json, click.echo))
    sys.exit(code)
