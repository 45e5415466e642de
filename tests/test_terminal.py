"""The console in a real pseudo-terminal: start, quit, and the signals of a dropped session."""

from __future__ import annotations

import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import console_env, wait_until
from tests.pty_terminal import PtyProcess

pytestmark = pytest.mark.pty

LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l"


@pytest.fixture
def demo_console(tmp_path: Path) -> Iterator[tuple[PtyProcess, Path]]:
    state = tmp_path / "state"
    argv = [
        sys.executable,
        "-m",
        "lessay_console",
        "--demo",
        "--operator",
        "alice",
        "--state-dir",
        str(state),
    ]
    process = PtyProcess(argv, console_env(), cols=80, rows=24)
    try:
        # the first frame, then the panes once the demo backend is up and polled
        process.wait_for(lambda screen: "DEMO" in screen and "Quit" in screen)
        process.wait_for(lambda screen: "API p95" in screen and "ms" in screen)
        yield process, state / "console.log"
    finally:
        process.close()


def demo_port_and_data(log: Path) -> tuple[int, Path]:
    match = re.search(r"demo backend at http://127\.0\.0\.1:(\d+), data in (\S+)", log.read_text())
    assert match, log.read_text()
    return int(match[1]), Path(match[2])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_first_screen_shows_demo_operator_and_sources(demo_console) -> None:
    process, _log = demo_console
    process.wait_for(lambda screen: "alice@" in screen and "Error rate" in screen)


@pytest.mark.parametrize("key", [b"q", b"\x03"], ids=["q", "ctrl-c"])
def test_quit_key_restores_the_terminal(demo_console, key: bytes) -> None:
    process, log = demo_console
    port, data = demo_port_and_data(log)
    process.send(key)
    assert process.wait() == 0
    assert LEAVE_ALTERNATE_SCREEN in process.text()
    assert "console stopped: operator quit" in log.read_text()
    assert port_is_free(port)
    assert not data.exists()


def test_sigterm_runs_the_shutdown_hooks(demo_console) -> None:
    process, log = demo_console
    port, data = demo_port_and_data(log)
    process.process.send_signal(signal.SIGTERM)
    assert process.wait() == 128 + signal.SIGTERM
    assert LEAVE_ALTERNATE_SCREEN in process.text()
    assert "console stopped: SIGTERM" in log.read_text()
    assert port_is_free(port)
    assert not data.exists()


def test_hang_up_runs_the_shutdown_hooks(demo_console) -> None:
    """Closing the terminal is what a dropped SSH connection does: the kernel sends SIGHUP."""
    process, log = demo_console
    port, data = demo_port_and_data(log)
    process.hang_up()
    assert process.wait() == 128 + signal.SIGHUP
    wait_until(lambda: "console stopped: SIGHUP" in log.read_text(), message="stop logged")
    assert port_is_free(port)
    assert not data.exists()
