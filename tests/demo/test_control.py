"""`lessay-console demo-ctl`: the demo's site commands, run as the runbooks run them.

Every command runs in a subprocess against a real demo backend over HTTP. The
fleet takes 3 s per batch of nodes; tests that need more than one batch run the
backend on a sped-up clock so they stay fast, and tests that look at a rollout
half-way use the fake clock, which only moves when the test says so.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lessay_console.demo import DemoBackend
from lessay_console.demo.backups import parse_backup_name
from lessay_console.demo.settings import demo_config
from tests.demo.demo_support import FakeClock
from tests.helpers import console_env, wait_until

DEMO_CTL = (sys.executable, "-m", "lessay_console", "demo-ctl")
#: The named commands the built-in runbooks use (issue 6): all must run in the demo.
RUNBOOK_COMMANDS = (
    "deploy",
    "rollback",
    "drain",
    "backup_snapshot",
    "migrate",
    "smoke_test",
    "traffic",
    "staging_apply",
    "restore",
)


def run(argv: list[str] | tuple[str, ...], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=console_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def demo_ctl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([*DEMO_CTL, "--url", url, *args])


def fleet(backend: DemoBackend) -> dict[str, Any]:
    return httpx.get(f"{backend.url}/fleet", timeout=5.0).json()


def nodes_on(backend: DemoBackend, version: str) -> list[str]:
    return [node["name"] for node in fleet(backend)["nodes"] if node["version"] == version]


class FastClock:
    """Real time sped up, so that the fleet's 3 s batches pass in a fraction of a second."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.origin = time.monotonic()
        self.wall_origin = time.time()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.origin) * self.speed

    def wall(self) -> float:
        return self.wall_origin + (time.monotonic() - self.origin) * self.speed


@pytest.fixture
def fast_backend(make_backend: Callable[..., DemoBackend]) -> DemoBackend:
    """A demo backend whose clock runs 10 times faster: a 100 % deploy takes 1.2 s, not 12."""
    clock = FastClock(10.0)
    return make_backend(clock=clock, wall_clock=clock.wall)


# -- deploy, rollback, fleet-status -------------------------------------------------------


def test_deploy_to_10_percent_moves_exactly_one_node_and_reports_each_phase(
    backend: DemoBackend,
) -> None:
    result = demo_ctl(backend.url, "deploy", "--version", "2.5.0", "--percent", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "deploying 2.5.0 to 10% of the demo fleet (1/10 nodes): moving api-01"
    # Polled every 0.5 s on the real clock: the 1 s drain and the 2 s deploy are both seen.
    assert lines[1:5] == [
        "api-01 draining (out of rotation)",
        "api-01 deploying 2.5.0",
        "api-01 serving 2.5.0",
        "1/10 nodes on 2.5.0",
    ]
    assert lines[-1].startswith("converged: 1/10 nodes serve 2.5.0 (10% needs 1)")
    assert nodes_on(backend, "2.5.0") == ["api-01"]
    assert all(node["status"] == "ready" for node in fleet(backend)["nodes"])


def test_deploy_to_100_percent_moves_every_node(fast_backend: DemoBackend) -> None:
    result = demo_ctl(fast_backend.url, "deploy", "--version", "2.5.0", "--percent", "100")
    assert result.returncode == 0, result.stderr
    assert "10/10 nodes on 2.5.0" in result.stdout.splitlines()
    assert fleet(fast_backend)["versions"] == {"2.5.0": 10}


def test_rollback_waits_out_a_running_deployment_then_returns_every_node(
    fake_backend: DemoBackend, fake_clock: FakeClock, tmp_path: Path
) -> None:
    url = fake_backend.url
    started = demo_ctl(url, "deploy", "--version", "2.5.0", "--percent", "50", "--no-wait")
    assert started.returncode == 0, started.stderr
    output = tmp_path / "rollback.out"
    with output.open("w") as sink:
        rollback = subprocess.Popen(
            [*DEMO_CTL, "--url", url, "rollback", "--to", "2.4.1"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=console_env(),
            text=True,
        )
    try:
        # The fake clock holds the 2.5.0 deployment half-way: the fleet answers 409.
        wait_until(
            lambda: "waiting: deployment of 2.5.0 is in progress" in output.read_text(),
            message="the rollback to wait for the running deployment",
        )
        fake_clock.advance(60)
        wait_until(
            lambda: "deploying 2.4.1 to 100% of the demo fleet" in output.read_text(),
            message="the rollback to start once the deployment ended",
        )
        fake_clock.advance(60)
        assert rollback.wait(timeout=10) == 0, output.read_text()
    finally:
        rollback.kill()
        rollback.wait()
    lines = output.read_text().splitlines()
    assert lines[0] == "rolling back: the whole fleet to 2.4.1"
    assert "10/10 nodes on 2.4.1" in lines
    assert fleet(fake_backend)["versions"] == {"2.4.1": 10}


def test_fleet_status_is_0_only_once_a_stage_has_converged(
    fake_backend: DemoBackend, fake_clock: FakeClock
) -> None:
    url = fake_backend.url
    assert demo_ctl(url, "fleet-status", "--version", "2.4.1", "--percent", "100").returncode == 0

    before = demo_ctl(url, "fleet-status", "--version", "2.5.0", "--percent", "10")
    assert before.returncode == 1
    assert "not converged: 0/10 nodes serve 2.5.0 (10% needs 1)" in before.stderr

    started = demo_ctl(url, "deploy", "--version", "2.5.0", "--percent", "10", "--no-wait")
    assert started.returncode == 0, started.stderr
    fake_clock.advance(1.5)  # api-01 has drained and is deploying
    during = demo_ctl(url, "fleet-status", "--version", "2.5.0", "--percent", "10")
    assert during.returncode == 1
    assert "0/10 nodes serve 2.5.0 (10% needs 1), 1 deploying" in during.stderr

    fake_clock.advance(1.5)
    after = demo_ctl(url, "fleet-status", "--version", "2.5.0", "--percent", "10")
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("converged: 1/10 nodes serve 2.5.0")
    assert demo_ctl(url, "fleet-status", "--version", "2.5.0", "--percent", "25").returncode == 1


def test_deploy_not_converged_within_wait_fails_and_says_how_far_it_got(
    fake_backend: DemoBackend,
) -> None:
    # The fake clock never moves: api-01 drains for ever.
    result = demo_ctl(
        fake_backend.url, "deploy", "--version", "2.5.0", "--percent", "10", "--wait", "0.6"
    )
    assert result.returncode == 1
    assert "not converged within 0.6 s: 0/10 nodes serve 2.5.0" in result.stderr
    assert "1 draining" in result.stderr


def test_a_bad_version_is_refused_with_the_servers_reason(backend: DemoBackend) -> None:
    result = demo_ctl(backend.url, "deploy", "--version", "latest", "--percent", "10")
    assert result.returncode == 1
    assert "refused to deploy latest: bad version 'latest'" in result.stderr
    assert "(HTTP 400)" in result.stderr
    assert fleet(backend)["deployment"] is None


def test_an_unreachable_backend_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    result = demo_ctl(f"http://127.0.0.1:{port}", "deploy", "--version", "2.5.0", "--percent", "10")
    assert result.returncode == 1
    assert f"cannot reach the demo backend at http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "--version", "2.5.0", "--percent", "0"],
        ["deploy", "--version", "2.5.0", "--percent", "ten"],
        ["deploy", "--version", "2.5.0"],
        ["rollback"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = demo_ctl("http://127.0.0.1:9", *args)
    assert result.returncode == 2
    assert "usage: lessay-console demo-ctl" in result.stderr


# -- what the demo cannot do, said as such ------------------------------------------------


def test_drain_and_traffic_say_the_demo_has_no_such_switch(backend: DemoBackend) -> None:
    drain = demo_ctl(backend.url, "drain")
    assert drain.returncode == 0, drain.stderr
    assert "drains each node as part of a deploy" in drain.stdout
    assert "10/10 nodes in rotation now" in drain.stdout

    traffic = demo_ctl(backend.url, "traffic", "--percent", "25")
    assert traffic.returncode == 0, traffic.stderr
    assert "the demo has no traffic switch" in traffic.stdout
    assert "10/10 on 2.4.1" in traffic.stdout


def test_migrate_applies_three_numbered_migrations(backend: DemoBackend) -> None:
    result = demo_ctl(backend.url, "migrate", "--version", "2.5.0")
    assert result.returncode == 0, result.stderr
    applied = [line for line in result.stdout.splitlines() if line.startswith("applying ")]
    assert applied == [
        "applying 0042_add_lesson_streaks ... ok",
        "applying 0043_backfill_streak_counts ... ok",
        "applying 0044_index_streaks ... ok",
    ]


def test_migrate_fail_stops_at_the_second_migration(backend: DemoBackend) -> None:
    result = demo_ctl(backend.url, "migrate", "--version", "2.5.0", "--fail")
    assert result.returncode == 1
    assert "applying 0043_backfill_streak_counts ... FAILED" in result.stdout
    assert "0044" not in result.stdout
    assert "migration 0043_backfill_streak_counts failed" in result.stderr


# -- backups ------------------------------------------------------------------------------


def test_backup_snapshot_writes_a_file_the_catalog_recognises(backend: DemoBackend) -> None:
    before = set(backend.backup_dir.iterdir())
    result = demo_ctl(backend.url, "backup-snapshot", "--dir", str(backend.backup_dir))
    assert result.returncode == 0, result.stderr
    (snapshot,) = set(backend.backup_dir.iterdir()) - before
    parsed = parse_backup_name(snapshot.name)
    assert parsed is not None
    kind, taken = parsed
    assert kind == "db-hourly"
    assert abs(datetime.now(UTC) - taken) < timedelta(minutes=2)
    size = snapshot.stat().st_size
    assert 0 < size < 1000
    assert result.stdout.strip() == f"wrote {snapshot.name} ({size} B) in {backend.backup_dir}"


def test_backup_snapshot_and_restore_refuse_a_missing_directory(
    backend: DemoBackend, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir"
    for command in ("backup-snapshot", "restore"):
        result = demo_ctl(backend.url, command, "--dir", str(missing))
        assert result.returncode == 1
        assert f"backup directory {missing} does not exist" in result.stderr
        assert not missing.exists()


def test_restore_names_the_newest_database_backup_as_a_simulation(
    backend: DemoBackend, tmp_path: Path
) -> None:
    snapshot = demo_ctl(backend.url, "backup-snapshot", "--dir", str(backend.backup_dir))
    assert snapshot.returncode == 0, snapshot.stderr
    name = snapshot.stdout.split()[1]

    result = demo_ctl(backend.url, "restore", "--dir", str(backend.backup_dir))
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("SIMULATION: the demo has no database")
    assert second.startswith(f"would restore the database from {name} ")

    empty = demo_ctl(backend.url, "restore", "--dir", str(tmp_path))
    assert empty.returncode == 1
    assert "no database backup" in empty.stderr


# -- smoke test ---------------------------------------------------------------------------


def test_smoke_test_passes_on_a_healthy_backend(backend: DemoBackend) -> None:
    result = demo_ctl(backend.url, "smoke-test")
    assert result.returncode == 0, result.stderr
    checks = result.stdout.splitlines()[:4]
    assert [line.split(":")[0] for line in checks] == [
        "ok   health",
        "ok   fleet",
        "ok   payment status page",
        "ok   identity provider",
    ]


def test_smoke_test_fails_when_health_is_down(backend: DemoBackend) -> None:
    backend.set_scenario("db-exhaustion")
    result = demo_ctl(backend.url, "smoke-test")
    assert result.returncode == 1
    assert "FAIL health: down (HTTP 503; database down)" in result.stdout
    assert "smoke test failed: health" in result.stderr


def test_staging_apply_says_there_is_no_staging_and_checks_the_demo(backend: DemoBackend) -> None:
    result = demo_ctl(backend.url, "staging-apply")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the demo has no staging environment: nothing was applied")
    assert "smoke test passed" in result.stdout


# -- the demo configuration ---------------------------------------------------------------


def test_demo_config_names_every_command_the_runbooks_use(backend: DemoBackend) -> None:
    commands = demo_config(backend).commands
    assert set(RUNBOOK_COMMANDS) <= commands.keys()
    prefix = (sys.executable, "-m", "lessay_console", "demo-ctl", "--url", backend.url)
    for name, argv in commands.items():
        assert argv[: len(prefix)] == prefix, name
    assert commands["deploy"][len(prefix) :] == (
        "deploy",
        "--version",
        "{version}",
        "--percent",
        "{percent}",
    )
    assert commands["rollback"][len(prefix) :] == ("rollback", "--to", "2.4.1")
    assert commands["backup_snapshot"][-1] == str(backend.backup_dir)


def test_every_demo_command_runs_against_the_backend(fast_backend: DemoBackend) -> None:
    """The runbooks' order, with the placeholders filled as the engine fills them."""
    commands = demo_config(fast_backend).commands
    newest_full = max(p.name for p in fast_backend.backup_dir.glob("lessay-db-full-*"))
    params = {"{version}": "2.5.0", "{percent}": "10", "{backup}": newest_full}
    order = (
        "staging_apply",
        "backup_snapshot",
        "drain",
        "deploy",
        "migrate",
        "smoke_test",
        "traffic",
        "rollback",
        "restore",
    )
    assert sorted(order) == sorted(RUNBOOK_COMMANDS)
    for name in order:
        argv = [params.get(arg, arg) for arg in commands[name]]
        result = run(argv)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        if name == "deploy":
            assert nodes_on(fast_backend, "2.5.0") == ["api-01"]
        if name == "restore":  # the backup the operator chose, not merely the newest
            assert f"would restore the database from {newest_full}" in result.stdout
    assert fleet(fast_backend)["versions"] == {"2.4.1": 10}  # rollback waits until it is so
