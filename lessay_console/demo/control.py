"""The demo's site commands: what an operator's deploy, backup and migration tools would be.

Runbooks name site commands (``[commands] deploy = [...]``); in the demo those
run ``lessay-console demo-ctl --url URL SUBCOMMAND``, which acts for real on the
demo backend: its fleet over HTTP, its backup directory on disk. What the demo
cannot do (drain traffic apart from a deploy, switch traffic, migrate or restore
a database, apply to a staging environment) is said as such in the output.

Stdlib only (urllib, json, argparse): a runbook step starts it as a subprocess,
so it must start fast. One line per event on stdout; exit 0 on success, 1 on
failure with the reason on stderr, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lessay_console.demo.backups import BACKUP_KINDS, parse_backup_name
from lessay_console.demo.fleet import DEPLOY_SECONDS, DRAIN_SECONDS, MAX_UNAVAILABLE

#: Where ``lessay-console demo-backend`` listens by default.
DEFAULT_URL = "http://127.0.0.1:8765"
#: How often a waiting deploy reads ``GET /fleet``: a node drains for 1 s, so no phase is missed.
POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 5.0
#: The numbered migrations ``migrate`` pretends to apply.
MIGRATIONS = ("0042_add_lesson_streaks", "0043_backfill_streak_counts", "0044_index_streaks")
MIGRATION_SECONDS = 0.2


class ControlError(Exception):
    """A failure the command reports on stderr, exiting 1."""


class RolloutTimeoutError(Exception):
    """The fleet had not converged by the deadline; the message says how far it got."""


def say(line: str) -> None:
    """One event on stdout, flushed: a runbook streams it while the command runs."""
    print(line, flush=True)


# -- HTTP -------------------------------------------------------------------------------


class DemoClient:
    """JSON over HTTP to the demo backend; any answer (2xx or not) comes back as (status, body)."""

    def __init__(self, url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        # The demo backend is a local peer: an http_proxy from the environment must not
        # capture requests to it.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path: str) -> tuple[int, Any]:
        # the scheme is http(s): checked when --url is parsed
        return self._request(urllib.request.Request(self.url + path))  # noqa: S310

    def post(self, path: str, payload: Any) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, as above
            self.url + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return self._request(request)

    def _request(self, request: urllib.request.Request) -> tuple[int, Any]:
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:  # a 4xx/5xx still carries a JSON body
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ControlError(
                f"cannot reach the demo backend at {self.url}: {reason}; is it running? "
                "(lessay-console demo-backend)"
            ) from None
        try:
            return status, json.loads(raw)
        except ValueError:
            raise ControlError(
                f"{request.full_url} answered HTTP {status} with a body that is not JSON"
            ) from None


def error_of(body: Any) -> str:
    """The reason the demo backend gives in ``{"error": ...}``."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return "no reason given"


# -- the fleet --------------------------------------------------------------------------


_NODE_KEYS = {"name", "version", "status", "serving"}


class FleetState:
    """One ``GET /fleet`` answer, with the questions a rollout stage asks of it."""

    def __init__(self, body: Any) -> None:
        nodes = body.get("nodes") if isinstance(body, dict) else None
        if not isinstance(nodes, list) or not all(
            isinstance(node, dict) and node.keys() >= _NODE_KEYS for node in nodes
        ):
            raise ControlError("the demo backend answered a fleet without a list of nodes")
        self.nodes: list[dict[str, Any]] = body["nodes"]
        self.deployment: dict[str, Any] | None = body.get("deployment")

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def deploying(self) -> bool:
        return self.deployment is not None and self.deployment.get("state") == "in_progress"

    def in_rotation(self) -> Counter[str]:
        """Versions of the nodes in rotation, counted: what requests are spread over."""
        return Counter(node["version"] for node in self.nodes if node["serving"])

    def serving(self, version: str) -> int:
        """Nodes in rotation on ``version``: a node draining away from it no longer counts."""
        return self.in_rotation()[version]

    def busy(self) -> list[str]:
        """``"2 deploying"``-style counts of nodes out of rotation."""
        counts = Counter(node["status"] for node in self.nodes if node["status"] != "ready")
        return [f"{count} {status}" for status, count in sorted(counts.items())]


def needed_nodes(percent: float, size: int) -> int:
    """Nodes a stage needs, as the fleet counts them (the epsilon absorbs float noise)."""
    return math.ceil(percent * size / 100 - 1e-9)


def converged(state: FleetState, version: str, percent: float) -> bool:
    """Enough nodes serve ``version`` and none is on its way in or out of rotation."""
    enough = state.serving(version) >= needed_nodes(percent, state.size)
    return enough and not state.busy() and not state.deploying


def describe(state: FleetState, version: str, percent: float) -> str:
    """``"3/10 nodes serve 2.5.0 (25% needs 3), 2 deploying"``."""
    need = needed_nodes(percent, state.size)
    text = (
        f"{state.serving(version)}/{state.size} nodes serve {version} ({percent:g}% needs {need})"
    )
    busy = state.busy()
    return text + (", " + ", ".join(busy) if busy else ", none draining or deploying")


def fetch_fleet(client: DemoClient) -> FleetState:
    status, body = client.get("/fleet")
    if status != 200:
        raise ControlError(f"GET /fleet answered HTTP {status}: {error_of(body)}")
    return FleetState(body)


def progress_lines(before: FleetState, after: FleetState, version: str) -> list[str]:
    """What changed between two polls, one line per node event, then the count if it moved."""
    old = {node["name"]: node for node in before.nodes}
    target = (after.deployment or {}).get("version", version)
    lines = []
    for node in after.nodes:
        previous = old.get(node["name"], node)
        if (previous["status"], previous["version"]) == (node["status"], node["version"]):
            continue
        if node["status"] == "draining":
            lines.append(f"{node['name']} draining (out of rotation)")
        elif node["status"] == "deploying":
            lines.append(f"{node['name']} deploying {target}")
        else:
            lines.append(f"{node['name']} serving {node['version']}")
    if before.serving(version) != after.serving(version):
        lines.append(f"{after.serving(version)}/{after.size} nodes on {version}")
    return lines


def start_deployment(
    client: DemoClient, version: str, percent: float, deadline: float | None
) -> FleetState:
    """``POST /fleet/deploy``; a deployment already running (409) is waited out until ``deadline``.

    With no deadline (``--no-wait``) the 409 is a failure like any refusal.
    """
    payload = {"version": version, "percent": int(percent) if percent.is_integer() else percent}
    while True:
        status, body = client.post("/fleet/deploy", payload)
        if status == 202:
            return FleetState(body)
        if status != 409 or deadline is None:
            raise ControlError(
                f"the demo backend refused to deploy {version}: {error_of(body)} (HTTP {status})"
            )
        # Another deployment (an earlier stage, another console) is moving nodes: the
        # fleet takes one at a time, so wait for it rather than fail a rollback.
        say(f"waiting: {error_of(body)}")
        while fetch_fleet(client).deploying:
            if time.monotonic() >= deadline:
                raise ControlError(f"gave up waiting to deploy {version}: {error_of(body)}")
            time.sleep(POLL_SECONDS)


def deploy(client: DemoClient, version: str, percent: float, wait: float | None) -> None:
    """Deploy ``version`` to ``percent`` of the fleet; unless ``wait`` is None, until converged."""
    began = time.monotonic()
    deadline = None if wait is None else began + wait
    state = start_deployment(client, version, percent, deadline)
    moving = (state.deployment or {}).get("nodes") or []
    need = needed_nodes(percent, state.size)
    say(
        f"deploying {version} to {percent:g}% of the demo fleet ({need}/{state.size} nodes): "
        + (f"moving {', '.join(moving)}" if moving else "no node to move")
    )
    if wait is None:
        say(f"started; follow it with: fleet-status --version {version} --percent {percent:g}")
        return
    try:
        state = watch_rollout(client, state, version, percent, began + wait)
    except RolloutTimeoutError as error:
        raise ControlError(
            f"not converged within {wait:g} s: {error} (the deployment goes on in the demo backend)"
        ) from None
    say(f"converged: {describe(state, version, percent)} ({time.monotonic() - began:.1f} s)")


def watch_rollout(
    client: DemoClient, state: FleetState, version: str, percent: float, deadline: float
) -> FleetState:
    """Poll the fleet, printing each node's moves, until converged; fail at ``deadline``."""
    # Every node as it was before the POST: the ones it already drains show as events.
    before = FleetState({"nodes": [{**n, "status": "ready", "serving": True} for n in state.nodes]})
    while True:
        for line in progress_lines(before, state, version):
            say(line)
        if converged(state, version, percent):
            return state
        if time.monotonic() >= deadline:
            raise RolloutTimeoutError(describe(state, version, percent))
        time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
        before, state = state, fetch_fleet(client)


def fleet_status(client: DemoClient, version: str, percent: float) -> None:
    state = fetch_fleet(client)
    if not converged(state, version, percent):
        raise ControlError(f"not converged: {describe(state, version, percent)}")
    say(f"converged: {describe(state, version, percent)}")


def drain(client: DemoClient) -> None:
    state = fetch_fleet(client)
    say(
        "the demo fleet drains each node as part of a deploy: a moving node leaves rotation "
        f"for {DRAIN_SECONDS:g} s, then deploys ({DEPLOY_SECONDS:g} s), at most "
        f"{MAX_UNAVAILABLE} at a time; there is no separate drain, so nothing was done now"
    )
    say(f"{state.in_rotation().total()}/{state.size} nodes in rotation now")


def traffic(client: DemoClient, percent: float) -> None:
    state = fetch_fleet(client)
    say(
        f"the demo has no traffic switch: nothing was changed to enable {percent:g}% of traffic; "
        "requests are spread over the nodes in rotation"
    )
    versions = state.in_rotation()
    total = versions.total()
    shares = ", ".join(f"{count}/{total} on {v}" for v, count in sorted(versions.items()))
    say(f"{total}/{state.size} nodes in rotation now: {shares or 'none'}")


# -- smoke test -------------------------------------------------------------------------

Verdict = tuple[bool, str]


def _judge_health(status: int, body: Any) -> Verdict:
    health = body.get("status") if isinstance(body, dict) else None
    if status == 200 and health == "ok":
        return True, f"ok (version {body.get('version')} on {body.get('node')})"
    checks = body.get("checks", {}) if isinstance(body, dict) else {}
    bad = [
        f"{name} {check.get('status')}"
        for name, check in checks.items()
        if isinstance(check, dict) and check.get("status") != "ok"
    ]
    return False, f"{health} (HTTP {status}{'; ' + ', '.join(bad) if bad else ''})"


def _judge_fleet(status: int, body: Any) -> Verdict:
    if status != 200:
        return False, f"HTTP {status}: {error_of(body)}"
    state = FleetState(body)
    versions = state.in_rotation()
    listed = ", ".join(f"{count} on {v}" for v, count in sorted(versions.items()))
    return versions.total() > 0, f"{versions.total()}/{state.size} nodes in rotation ({listed})"


def _judge_status_page(status: int, body: Any) -> Verdict:
    # The provider's own incident is not a failure of this deployment (the payments
    # dependency is judged by /health); the page only has to answer.
    page = body.get("status") if isinstance(body, dict) else None
    if status != 200 or not isinstance(page, dict):
        return False, f"HTTP {status}: {error_of(body)}"
    return True, f"reachable, indicator {page.get('indicator')} ({page.get('description')})"


def _judge_discovery(status: int, body: Any) -> Verdict:
    if status != 200 or not isinstance(body, dict):
        return False, f"HTTP {status}: {error_of(body)}"
    missing = [key for key in ("issuer", "jwks_uri") if not body.get(key)]
    if missing:
        return False, f"discovery document without {', '.join(missing)}"
    return True, f"issuer {body['issuer']}"


SMOKE_CHECKS: tuple[tuple[str, str, Callable[[int, Any], Verdict]], ...] = (
    ("health", "/health", _judge_health),
    ("fleet", "/fleet", _judge_fleet),
    ("payment status page", "/status/api/v2/status.json", _judge_status_page),
    ("identity provider", "/idp/.well-known/openid-configuration", _judge_discovery),
)


def smoke_test(client: DemoClient) -> None:
    failed = []
    for name, path, judge in SMOKE_CHECKS:
        ok, detail = judge(*client.get(path))
        say(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            failed.append(name)
    if failed:
        raise ControlError(f"smoke test failed: {', '.join(failed)}")
    say(f"smoke test passed: {len(SMOKE_CHECKS)} checks")


def staging_apply(client: DemoClient) -> None:
    say(
        "the demo has no staging environment: nothing was applied; its one fleet is production. "
        "Checking the demo backend instead:"
    )
    smoke_test(client)


# -- migrations and backups -------------------------------------------------------------


def migrate(version: str, fail: bool) -> None:
    say(f"migrating the database for {version} (simulated: the demo has no database)")
    for index, migration in enumerate(MIGRATIONS):
        print(f"applying {migration} ...", end=" ", flush=True)
        time.sleep(MIGRATION_SECONDS)  # a migration takes a moment; a runbook shows it streaming
        if fail and index == 1:
            say("FAILED")
            raise ControlError(
                f"migration {migration} failed (simulated by --fail); "
                f"{index} applied, {len(MIGRATIONS) - index - 1} not run"
            )
        say("ok")
    say(f"{len(MIGRATIONS)} migrations applied")


def _existing_dir(directory: Path) -> Path:
    if not directory.is_dir():
        raise ControlError(f"backup directory {directory} does not exist or is not a directory")
    return directory


def human_size(size: int) -> str:
    """Bytes in SI units: ``154 B``, ``1.2 GB``."""
    value, unit = float(size), "B"
    for bigger in ("kB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def backup_snapshot(directory: Path) -> None:
    """An hourly database snapshot named by the catalog's rule, for the minute it is taken."""
    now = datetime.now(UTC)
    path = _existing_dir(directory) / BACKUP_KINDS["db-hourly"].name_format.format(now)
    content = (
        "-- lessay demo database snapshot\n"
        f"-- taken {now:%Y-%m-%dT%H:%M:%SZ} by lessay-console demo-ctl backup-snapshot\n"
        "-- a stand-in: the demo has no database to dump\n"
    ).encode()
    try:
        with path.open("xb") as snapshot:  # never overwrite a backup
            snapshot.write(content)
    except FileExistsError:
        raise ControlError(
            f"{path.name} already exists: one snapshot a minute, try again shortly"
        ) from None
    except OSError as error:
        raise ControlError(f"cannot write {path}: {error.strerror or error}") from None
    say(f"wrote {path.name} ({human_size(len(content))}) in {directory}")


def _age(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def restore(directory: Path, backup: str | None = None) -> None:
    """Name the database backup a restore starts from: `backup` (the one the operator chose,
    which must exist), else the newest by when it finished."""
    candidates = [
        entry
        for entry in _existing_dir(directory).iterdir()
        if (parsed := parse_backup_name(entry.name)) and parsed[0] in ("db-hourly", "db-full")
    ]
    if backup is not None:
        candidates = [entry for entry in candidates if entry.name == backup]
        if not candidates:
            raise ControlError(f"no database backup {backup!r} in {directory}")
    if not candidates:
        raise ControlError(f"no database backup in {directory}: nothing to restore from")
    newest = max(candidates, key=lambda entry: entry.stat().st_mtime)
    stat = newest.stat()
    finished = datetime.fromtimestamp(stat.st_mtime, UTC)
    say("SIMULATION: the demo has no database; nothing was restored")
    say(
        f"would restore the database from {newest.name} ({human_size(stat.st_size)}, "
        f"finished {finished:%Y-%m-%d %H:%M} UTC, {_age(time.time() - stat.st_mtime)} ago)"
    )


# -- command line -----------------------------------------------------------------------


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 100]")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lessay-console demo-ctl",
        description="The demo backend's site commands, as the built-in runbooks run them.",
    )
    parser.add_argument("--url", type=_url, default=DEFAULT_URL, help="the demo backend")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def wait_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--wait", type=_seconds, default=60.0, help="seconds to converge (default 60)"
        )

    deploy_cmd = commands.add_parser("deploy", help="deploy a version to a share of the fleet")
    deploy_cmd.add_argument("--version", required=True)
    deploy_cmd.add_argument("--percent", type=_percent, required=True)
    wait_option(deploy_cmd)
    deploy_cmd.add_argument("--no-wait", action="store_true", help="return once it has started")
    rollback_cmd = commands.add_parser("rollback", help="deploy a version to 100%% of the fleet")
    rollback_cmd.add_argument("--to", required=True, metavar="VERSION")
    wait_option(rollback_cmd)
    status_cmd = commands.add_parser("fleet-status", help="exit 0 when a stage has converged")
    status_cmd.add_argument("--version", required=True)
    status_cmd.add_argument("--percent", type=_percent, required=True)
    commands.add_parser("drain", help="say how the demo fleet drains nodes")
    snapshot_cmd = commands.add_parser("backup-snapshot", help="write an hourly db snapshot")
    snapshot_cmd.add_argument("--dir", type=Path, required=True)
    restore_cmd = commands.add_parser("restore", help="name the backup a restore would use")
    restore_cmd.add_argument("--dir", type=Path, required=True)
    restore_cmd.add_argument("--backup", help="the backup chosen (default: the newest)")
    migrate_cmd = commands.add_parser("migrate", help="apply (simulated) migrations")
    migrate_cmd.add_argument("--version", required=True)
    migrate_cmd.add_argument("--fail", action="store_true", help="make the second one fail")
    commands.add_parser("smoke-test", help="health, fleet, status page, IdP discovery")
    commands.add_parser("staging-apply", help="say there is no staging; smoke-test instead")
    traffic_cmd = commands.add_parser("traffic", help="say how traffic follows the fleet")
    traffic_cmd.add_argument("--percent", type=_percent, required=True)
    return parser


def run(args: argparse.Namespace) -> None:
    """Carry out the parsed command; :class:`ControlError` on failure."""
    client = DemoClient(args.url)
    match args.command:
        case "deploy":
            deploy(client, args.version, args.percent, None if args.no_wait else args.wait)
        case "rollback":
            say(f"rolling back: the whole fleet to {args.to}")
            deploy(client, args.to, 100.0, args.wait)
        case "fleet-status":
            fleet_status(client, args.version, args.percent)
        case "drain":
            drain(client)
        case "backup-snapshot":
            backup_snapshot(args.dir)
        case "restore":
            restore(args.dir, args.backup)
        case "migrate":
            migrate(args.version, args.fail)
        case "smoke-test":
            smoke_test(client)
        case "staging-apply":
            staging_apply(client)
        case "traffic":
            traffic(client, args.percent)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run; the exit status (argparse exits 2 itself on a usage error)."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except ControlError as error:
        print(f"demo-ctl {args.command}: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"demo-ctl {args.command}: interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
