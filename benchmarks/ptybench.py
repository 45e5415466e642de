"""Measuring a terminal program the way an operator runs it: in a real pseudo-terminal.

Shared by `run.py` (start-up and steady figures, the console beside glances)
and `terminal_traffic.py` (what the bytes to the terminal are spent on).

- `RecordedPty`: `tests.pty_terminal.PtyProcess` that also notes when each
  chunk of output arrived, so a frame is timed by the read that brought it,
  not by how often the harness looks.
- `Watch`: feeds the output, chunk by chunk, to a `vt.Screen` and says when
  the screen first satisfied a predicate.
- `TreeSampler`: CPU time and resident memory of a process and its
  descendants, sampled as often as you call it.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.vt import Screen  # noqa: E402
from tests.pty_terminal import PtyProcess  # noqa: E402

Predicate = Callable[[Screen], bool]


class RecordedPty(PtyProcess):
    """A `PtyProcess` that keeps (arrival time, end offset) for every chunk it reads."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], cols: int = 80, rows: int = 24
    ) -> None:
        self.chunks: list[tuple[float, int]] = []
        self.started = time.perf_counter()  # just before exec
        super().__init__(argv, env, cols, rows)

    def _received(self) -> None:
        self.chunks.append((time.perf_counter(), len(self.output)))

    def snapshot(self) -> tuple[bytes, list[tuple[float, int]]]:
        with self._lock:
            return bytes(self.output), list(self.chunks)

    def bytes_between(self, start: float, end: float) -> int:
        """Bytes that arrived in [start, end)."""
        total, previous = 0, 0
        with self._lock:
            for arrived, offset in self.chunks:
                if start <= arrived < end:
                    total += offset - previous
                previous = offset
        return total

    def quit(self, keys: bytes = b"q", timeout: float = 10.0) -> int | None:
        """Ask the program to quit; kill it if it has not within `timeout`."""
        try:
            if self.process.poll() is None and self.master is not None:
                self.send(keys)
            return self.wait(timeout)
        except Exception:  # whatever happened, the process must go
            return None
        finally:
            self.close()


class Watch:
    """The screen of a `RecordedPty`, brought up to date one chunk at a time."""

    def __init__(self, pty: RecordedPty, cols: int, rows: int) -> None:
        self.pty = pty
        self.screen = Screen(cols, rows)
        self._fed = 0  # chunks fed
        self._offset = 0
        self._last_arrival = pty.started

    def _feed_until(self, predicate: Predicate) -> float | None:
        data, chunks = self.pty.snapshot()
        while self._fed < len(chunks):
            arrived, end = chunks[self._fed]
            self.screen.feed(data[self._offset : end])
            self._offset = end
            self._fed += 1
            self._last_arrival = arrived
            if predicate(self.screen):
                return arrived
        return None

    def wait(self, predicate: Predicate, timeout: float = 30.0, interval: float = 0.01) -> float:
        """Seconds from exec to the read after which the screen satisfied `predicate`.

        If the screen already satisfies it, the time of the last read fed: a frame
        with values is not counted as earlier than the complete frame waited for before.
        """
        if predicate(self.screen):
            return self._last_arrival - self.pty.started
        deadline = time.monotonic() + timeout
        while True:
            arrived = self._feed_until(predicate)
            if arrived is not None:
                return arrived - self.pty.started
            if self.pty.process.poll() is not None:
                self._feed_until(predicate)
                raise RuntimeError(
                    f"{self.pty.process.args[0]} exited with {self.pty.process.returncode}; "
                    f"screen:\n{self.screen.text()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s; screen:\n{self.screen.text()}")
            time.sleep(interval)


@dataclass
class TreeSampler:
    """CPU seconds and peak RSS of a process and its descendants.

    CPU: user + system of the process (with the children it reaped) and of
    every descendant alive at the end. RSS: the sum over the tree at each
    `sample()`, and its maximum.
    """

    pid: int
    root: psutil.Process = field(init=False)
    _start: dict[int, float] = field(init=False, default_factory=dict)
    _last: dict[int, float] = field(init=False, default_factory=dict)
    _procs: dict[int, psutil.Process] = field(init=False, default_factory=dict)
    _main_start: float = field(init=False, default=0.0)
    _main_last: float = field(init=False, default=0.0)
    peak_rss: int = field(init=False, default=0)
    max_processes: int = field(init=False, default=0)
    max_threads: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.root = psutil.Process(self.pid)
        self._procs[self.pid] = self.root
        self.sample()
        self._start = dict(self._last)
        self._main_start = self._main_last

    def _cpu(self, process: psutil.Process) -> float:
        times = process.cpu_times()
        own = times.user + times.system
        if process.pid == self.pid:
            own += times.children_user + times.children_system
        return own

    def sample(self) -> None:
        try:
            children = self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            self._procs.setdefault(child.pid, child)
        alive = {self.pid, *(child.pid for child in children)}
        rss, threads = 0, 0
        for pid in alive:
            process = self._procs[pid]
            try:
                with process.oneshot():
                    self._last[pid] = self._cpu(process)
                    rss += process.memory_info().rss
                    threads += process.num_threads()
                    if pid == self.pid:
                        main = next(t for t in process.threads() if t.id == self.pid)
                        self._main_last = main.user_time + main.system_time
            except (psutil.NoSuchProcess, StopIteration):
                continue
        self.peak_rss = max(self.peak_rss, rss)
        self.max_processes = max(self.max_processes, len(alive))
        self.max_threads = max(self.max_threads, threads)

    def cpu_seconds(self) -> float:
        return sum(value - self._start.get(pid, 0.0) for pid, value in self._last.items())

    def main_thread_cpu_seconds(self) -> float:
        return self._main_last - self._main_start

    def hwm_rss(self) -> int:
        """The kernel's high-water mark of the process's RSS since exec (VmHWM), in bytes."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0


class SystemLoad:
    """CPU busy time of the whole machine between two points, less what we account for."""

    def __init__(self) -> None:
        self.start = self._busy()
        self.own_start = self._own()

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    @staticmethod
    def _own() -> float:
        times = psutil.Process().cpu_times()
        return times.user + times.system

    def other_seconds(self, measured: float) -> tuple[float, float]:
        """(CPU seconds of other processes, of this harness) since creation."""
        own = self._own() - self.own_start
        return max(0.0, self._busy() - self.start - measured - own), own


def wait_for_quiet(limit: float = 30.0, max_wait: float = 60.0) -> float:
    """Wait (at most `max_wait` s) until the machine's CPU use over 1 s is under `limit`
    percent of one core; return the last reading. Other work on a shared machine skews
    every figure here, so the benchmark waits for a quiet moment, and says when none came."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = psutil.cpu_percent(interval=1.0) * (psutil.cpu_count() or 1)
        if busy < limit or time.monotonic() > deadline:
            return busy


def steady(pty: RecordedPty, seconds: float, interval: float = 0.25) -> dict[str, float]:
    """The steady figures of the program in `pty` over the next `seconds`."""
    sampler = TreeSampler(pty.process.pid)
    load = SystemLoad()
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        time.sleep(min(interval, max(0.0, seconds - elapsed)))
        sampler.sample()
    end = time.perf_counter()
    elapsed = end - start
    cpu = sampler.cpu_seconds()
    other, harness = load.other_seconds(cpu)
    return {
        "cpu_percent": 100 * cpu / elapsed,
        "main_thread_cpu_percent": 100 * sampler.main_thread_cpu_seconds() / elapsed,
        "peak_rss_mb": sampler.peak_rss / 2**20,
        "hwm_rss_mb": sampler.hwm_rss() / 2**20,
        "terminal_bytes_per_s": pty.bytes_between(start, end) / elapsed,
        "processes": sampler.max_processes,
        "threads": sampler.max_threads,
        "harness_cpu_percent": 100 * harness / elapsed,
        "other_cpu_percent": 100 * other / elapsed,
        "seconds": elapsed,
    }
