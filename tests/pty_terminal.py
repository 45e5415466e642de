"""Run a command in a real pseudo-terminal, as an operator's SSH session would.

The child gets the pty as its controlling terminal, so closing our end is a
real hang-up: the kernel sends SIGHUP, as when an SSH connection drops.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Sequence


class PtyProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cols: int = 80,
        rows: int = 24,
        cwd: str | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_take_controlling_terminal,  # noqa: PLW1509
        )
        os.close(slave)
        self.master: int | None = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self.master is not None:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk
                self._received()

    def _received(self) -> None:
        """Called with the lock held after each read (the benchmark timestamps here)."""

    def text(self) -> str:
        with self._lock:
            return self.output.decode("utf-8", "replace")

    def send(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float = 10.0, interval: float = 0.05
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; screen output so far:\n{self.text()[-2000:]!r}")
            if self.process.poll() is not None:
                raise AssertionError(
                    f"exited with {self.process.returncode}:\n{self.text()[-2000:]}"
                )
            time.sleep(interval)

    def hang_up(self) -> None:
        """Close the terminal, as a dropped SSH connection does."""
        master, self.master = self.master, None
        if master is not None:
            os.close(master)

    def wait(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.hang_up()


def _take_controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
