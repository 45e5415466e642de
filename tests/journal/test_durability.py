"""Durability: what `append` has returned survives kill -9; two processes share one chain."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lessay_console.identity import Operator
from lessay_console.journal import Journal, verify
from tests.helpers import console_env, wait_until
from tests.journal.append_worker import payload

WORKER = Path(__file__).with_name("append_worker.py")


class Worker:
    """append_worker.py in a subprocess; a thread collects the (seq, i) pairs it prints."""

    def __init__(self, journal_file: Path, stream: str, mode: str = "sync") -> None:
        self.stream = stream
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(journal_file), stream, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=console_env(),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def wait_ready(self) -> None:
        wait_until(lambda: self.lines or self.process.poll() is not None, message="worker ready")
        assert self.lines[:1] == ["ready"], self.process.stderr.read()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def printed(self) -> list[tuple[int, int]]:
        return [tuple(map(int, line.split())) for line in self.lines[1:]]

    def wait_printed(self, count: int) -> None:
        wait_until(
            lambda: len(self.lines) > count or self.process.poll() is not None,
            timeout=30,
            message=f"{count} events printed by {self.stream}",
        )
        assert self.process.poll() is None, self.process.stderr.read()

    def kill(self) -> list[tuple[int, int]]:
        """SIGKILL, then every pair the worker printed before it died."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.returncode == -signal.SIGKILL
        return self.printed()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def workers(journal_file: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.mark.parametrize(("mode", "count"), [("sync", 1), ("sync", 150), ("async", 150)])
def test_every_event_append_returned_survives_kill_9(
    journal_file: Path, workers: list[Worker], mode: str, count: int
) -> None:
    worker = Worker(journal_file, "run/killed", mode)
    workers.append(worker)
    worker.wait_ready()
    worker.go()
    worker.wait_printed(count)

    printed = worker.kill()

    assert len(printed) >= count
    report = verify(journal_file)
    assert report.ok, report.problems
    with Journal.open(journal_file, Operator("after", "h", None)) as journal:
        stored = {event.seq: event for event in journal.events("run/killed")}
        for seq, number in printed:
            assert seq in stored, f"event #{seq} was printed, then lost"
            assert stored[seq].data == payload(number)
            assert stored[seq].pid == worker.process.pid
        # the journal goes on where the killed process stopped
        after = journal.append("run/killed", "resumed", {})
        assert after.seq == journal.last_seq() == max(stored) + 1
    assert verify(journal_file).ok


def test_two_processes_append_to_one_chain_without_reusing_a_seq(
    journal_file: Path, workers: list[Worker]
) -> None:
    first, second = Worker(journal_file, "run/one"), Worker(journal_file, "run/two")
    workers += [first, second]
    first.wait_ready()
    second.wait_ready()
    first.go()
    second.go()

    def interleaved() -> bool:
        """Both have written and taken turns several times: they really ran side by side."""
        with Journal.open(journal_file, Operator("reader", "h", None)) as journal:
            streams = [event.stream for event in journal.events()]
        turns = sum(1 for a, b in itertools.pairwise(streams) if a != b)
        return turns >= 10

    wait_until(interleaved, timeout=30, interval=0.05, message="appends taking turns")
    printed = {"run/one": first.kill(), "run/two": second.kill()}

    report = verify(journal_file)
    assert report.ok, report.problems
    with Journal.open(journal_file, Operator("after", "h", None)) as journal:
        events = journal.events()
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert {event.stream for event in events} == {"run/one", "run/two"}
    assert len({event.pid for event in events}) == 2
    for stream, pairs in printed.items():
        mine = [event for event in events if event.stream == stream]
        # each process's events in its own order, none lost, none written twice
        assert [event.data["i"] for event in mine] == list(range(len(mine)))
        by_seq = {event.seq: event.data["i"] for event in mine}
        assert all(by_seq.get(seq) == number for seq, number in pairs)
    seqs_one = {seq for seq, _ in printed["run/one"]}
    seqs_two = {seq for seq, _ in printed["run/two"]}
    assert not seqs_one & seqs_two
