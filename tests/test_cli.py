"""The command line as an operator meets it: exit statuses and one-line errors."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lessay_console import __version__
from tests.helpers import console_env, wait_until

CONSOLE = [sys.executable, "-m", "lessay_console"]


def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONSOLE, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env or console_env(),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0]


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_config_check_without_a_file_prints_the_guides_defaults(tmp_path: Path) -> None:
    result = run("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no configuration file found" in result.stdout
    assert 'warning = { above = 80, for = "5m" }' in result.stdout
    assert '[escalation."Payment Team"]' in result.stdout


def test_config_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'enviroment = "x"\n[api]\ntimeout = "fast"\n[thresholds.cpu]\nwarning = { above = 95 }\n'
    )
    result = run("--config", str(broken), "config", "check")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{broken}:1: enviroment: unknown key")
    assert lines[1].startswith(f"{broken}:3: api.timeout:")
    assert lines[2].startswith(f"{broken}:4: thresholds.cpu.critical:")
    assert lines[-1] == "3 problems found"


def test_config_check_never_prints_a_secret(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[postgres]\ndsn = "env:PG_DSN"\n[prometheus]\nurl = "http://p:9090"\n'
        'bearer_token = "env:PROM_TOKEN"\n'
    )
    env = console_env(
        PG_DSN="postgresql://lessay:Sup3rSecret@db:5432/lessay", PROM_TOKEN="tok-VerySecretToken"
    )
    result = run("--config", str(config), "config", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "Sup3rSecret" not in result.stdout + result.stderr
    assert "VerySecretToken" not in result.stdout + result.stderr
    assert "postgresql://lessay:***@db:5432/lessay" in result.stdout
    assert 'bearer_token = "env:PROM_TOKEN"  # resolved: set (19 characters)' in result.stdout


def test_config_check_reports_an_unset_variable(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[postgres]\ndsn = "env:LESSAY_UNSET_DSN"\n')
    result = run("--config", str(config), "config", "check")
    assert result.returncode == 2
    assert f"{config}:2: postgres.dsn: environment variable LESSAY_UNSET_DSN is not set" in (
        result.stderr
    )


def test_missing_config_named_on_the_command_line(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "nope.toml"), "config", "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'nope.toml'}: does not exist (named by --config)",
        "1 problem found",
    ]


def test_console_without_a_terminal_points_to_status() -> None:
    assert_one_line_error(run(), "not a terminal", "lessay-console status")
    assert_one_line_error(run(env=console_env(TERM="dumb")), "TERM=dumb")


class TestDemoBackendCommand:
    def test_serves_until_interrupted(self) -> None:
        process = subprocess.Popen(
            [*CONSOLE, "demo-backend", "--port", "0", "--scenario", "high-latency"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=console_env(),
        )
        try:
            first = process.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+", first)[0]
            assert "scenario high-latency" in first
            health = httpx.get(f"{url}/health", timeout=5)
            assert health.status_code == 200
            assert "lessay_http_requests_total" in httpx.get(f"{url}/metrics", timeout=5).text
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
            assert "demo backend stopped" in process.stdout.read()
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{url}/health", timeout=2)
        finally:
            process.kill()
            process.wait()

    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
    def test_stops_cleanly_on_termination_and_hang_up(self, signum: int) -> None:
        process = subprocess.Popen(
            [*CONSOLE, "demo-backend", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=console_env(),
        )
        try:
            process.stdout.readline()
            data_line = wait_until(lambda: _line_with(process, "data"), message="data line")
            data_dir = Path(data_line.split()[-1])
            assert data_dir.is_dir()
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
            assert not data_dir.exists()  # temporary data removed by the shutdown hook
        finally:
            process.kill()
            process.wait()

    def test_port_in_use(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            assert_one_line_error(
                run("demo-backend", "--port", str(port)), f"port {port}", "already in use"
            )

    def test_unknown_scenario(self) -> None:
        result = run("demo-backend", "--port", "0", "--scenario", "meltdown")
        assert_one_line_error(result, "meltdown", "normal", "high-latency")


def _line_with(process: subprocess.Popen[str], word: str) -> str | None:
    line = process.stdout.readline()
    return line if line.strip().startswith(word) else None
