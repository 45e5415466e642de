"""The test's side of `run_driver.py`: start it, read its lines with a deadline, kill it.

Also: user runbook files where the console (and the driver) look for them, and
the journal as a fresh reader sees it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import psutil

from lessay_console.identity import Operator
from lessay_console.journal import Event, Journal, journal_path
from lessay_console.locations import user_config_file
from tests.helpers import wait_until

DRIVER = Path(__file__).with_name("run_driver.py")
HOST = socket.gethostname()


def write_user_runbook(name: str, text: str) -> Path:
    """A runbook file where an operator puts one: the user config dir's `runbooks/`."""
    directory = user_config_file().parent / "runbooks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def toml_string(text: str) -> str:
    return json.dumps(text)


def toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def journal_events(state_dir: Path, stream: str | None = None) -> list[Event]:
    """The journal as another process sees it: a connection of its own, opened now."""
    with Journal.open(journal_path(state_dir), Operator("reader", HOST, None)) as journal:
        return journal.events(stream)


def kinds(events: Iterable[Event]) -> list[str]:
    return [e.kind for e in events]


class Driver:
    """`run_driver.py` as a subprocess; its stdout read line by line on a thread."""

    def __init__(self, state_dir: Path, operator: str, runbook: str, mode: str, *params: str):
        self.process = subprocess.Popen(
            [sys.executable, str(DRIVER), str(state_dir), operator, runbook, mode, *params],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.descendants: list[psutil.Process] = []

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def line(self, timeout: float = 15.0) -> str:
        """The next line it prints; fails at `timeout` or when it exits first."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"driver said nothing for {timeout}s after {self.seen}") from None
        if line is None:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"driver ended after {self.seen}:\n{stderr}")
        self.seen.append(line)
        return line

    def expect(self, prefix: str, timeout: float = 15.0) -> str:
        """Lines until one starting with `prefix`; that line."""
        while not (line := self.line(timeout)).startswith(prefix):
            pass
        return line

    def run_id(self) -> str:
        return self.expect("run ").removeprefix("run ")

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def remember_descendants(self) -> list[psutil.Process]:
        """The processes it started (a hanging command): killed by `close` whatever happens."""
        self.descendants = psutil.Process(self.pid).children(recursive=True)
        return self.descendants

    def kill_9(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=10)  # reaped: its pid no longer names a process

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)  # its end of the pipe is closed: the reader sees EOF
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        for child in self.descendants:
            try:
                if child.is_running():
                    os.killpg(os.getpgid(child.pid), signal.SIGKILL)
                    wait_until(lambda c=child: not alive(c), message=f"{child} gone")
            except (psutil.Error, ProcessLookupError):
                pass


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
