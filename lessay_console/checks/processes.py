"""Running a program without a shell, in a process group of its own, and ending the group.

`run_command` starts the program in a session of its own, streams each output
line as it comes, keeps the head and the tail of the output within a byte limit,
and always ends the program's whole process group, so nothing it started
outlives it: not at its end, not at a timeout, not when the caller is cancelled.
The `command` check and the runbook engine's command steps use it (both through
`lessay_console.checks.command`); `journald` runs `journalctl` with the same
pieces (`start_process`, `LineSplitter`, `end_process_group`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lessay_console.checks.model import CheckStatus

DEFAULT_OUTPUT_LIMIT = 65536
LINE_LIMIT = 4096  # bytes kept of one line: a 50 MB line without newline costs 4 KiB
TERM_GRACE = 1.0  # seconds a process group has between SIGTERM and SIGKILL
# After the program exits, how long a background child holding the pipe may keep writing
# before the group is ended.
LINGER = 0.5
_CHUNK = 65536
_POLL = 0.02


@dataclass(frozen=True)
class CommandResult:
    """How one program run ended, with its output (head and tail, within the limit)."""

    argv: tuple[str, ...]
    returncode: int | None  # negative: ended by that signal; None: never started
    output: str
    truncated_bytes: int  # dropped from the middle of the output
    last_line: str  # the last non-blank output line, capped
    elapsed: float
    timed_out: bool = False  # cut at `timeout` (the group was killed)
    not_started: str | None = None  # why it could not start: "not found: NAME", ...
    missing: bool = False  # not started because the program does not exist

    @property
    def signal_name(self) -> str | None:
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def verdict(self, expect_exit: int = 0) -> tuple[CheckStatus, str]:
        """Status and one-line summary: the exit code against the one expected."""
        if self.not_started is not None:  # a missing tool is skipped, not failed
            return (CheckStatus.SKIPPED if self.missing else CheckStatus.ERROR), self.not_started
        tail = f": {self.last_line}" if self.last_line else ""
        if self.timed_out:
            return CheckStatus.ERROR, f"cut at its timeout after {self.elapsed:.1f}s{tail}"
        if self.signal_name is not None:
            return (
                CheckStatus.FAIL,
                f"killed by {self.signal_name} (expected exit {expect_exit}){tail}",
            )
        if self.returncode == expect_exit:
            return CheckStatus.PASS, f"exit {self.returncode}{tail}"
        return CheckStatus.FAIL, f"exit {self.returncode} (expected {expect_exit}){tail}"

    def journal_fields(self, expect_exit: int = 0) -> dict[str, Any]:
        """What a journal event records of the run (the output capped as it was kept)."""
        status, summary = self.verdict(expect_exit)
        return {
            "status": status.value,
            "summary": summary,
            "exit_code": self.returncode,
            "signal": self.signal_name,
            "timed_out": self.timed_out,
            "output": self.output,
            "truncated_bytes": self.truncated_bytes,
            "elapsed": round(self.elapsed, 3),
        }


class LineSplitter:
    """Bytes in, whole text lines out, each capped at `limit` bytes; memory stays bounded."""

    def __init__(self, limit: int = LINE_LIMIT) -> None:
        self.limit = limit
        self._pending = bytearray()
        self._dropped = 0

    def feed(self, data: bytes) -> list[str]:
        lines = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._keep(data[start:end])
            lines.append(self._take())
            start = end + 1
        self._keep(data[start:])
        return lines

    def finish(self) -> list[str]:
        """The last line, where the output did not end with a newline."""
        return [self._take()] if self._pending or self._dropped else []

    def _keep(self, part: bytes) -> None:
        room = max(0, self.limit - len(self._pending))
        self._pending += part[:room]
        self._dropped += max(0, len(part) - room)

    def _take(self) -> str:
        line = self._pending.decode("utf-8", "replace").removesuffix("\r")
        if self._dropped:
            line += f" … [{self._dropped:,} more bytes]"
        self._pending = bytearray()
        self._dropped = 0
        return line


class CappedOutput:
    """The first and last `limit / 2` bytes of a stream, counting what falls between."""

    def __init__(self, limit: int) -> None:
        self._head_limit = max(0, limit) // 2
        self._tail_limit = max(0, limit) - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        self._tail += data
        excess = len(self._tail) - self._tail_limit
        if excess > 0:
            del self._tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        if not self.dropped:
            return (self._head + self._tail).decode("utf-8", "replace")
        marker = f"\n[… {self.dropped:,} bytes of output dropped …]\n"
        head = self._head.decode("utf-8", "replace")
        return head + marker + self._tail.decode("utf-8", "replace")


async def start_process(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stderr: int = asyncio.subprocess.STDOUT,
) -> asyncio.subprocess.Process:
    """`argv` in a new session (its own process group, no terminal), reading nothing.

    Raises FileNotFoundError (no such program) and PermissionError (not executable).
    """
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


async def end_process_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the process's whole group, SIGKILL whatever is left after a grace.

    Cancelled during the grace, it still sends SIGKILL: nothing may survive.
    """
    group = process.pid  # start_new_session: the process leads its own group
    try:
        if _group_alive(group):
            _signal_group(group, signal.SIGTERM)
            await _wait_group_gone(group, TERM_GRACE)
    finally:
        if _group_alive(group):
            _signal_group(group, signal.SIGKILL)
    await _wait_group_gone(group, TERM_GRACE)
    # Killed, its exit is being reaped; a process stuck in the kernel is not waited for.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(TERM_GRACE):
            await wait_exit(process)


async def wait_exit(process: asyncio.subprocess.Process) -> int:
    """The exit status, as soon as the process exits. (`Process.wait()` also waits for its
    pipes to close, which a background child may hold open for ever.)"""
    while process.returncode is None:  # noqa: ASYNC110 - asyncio gives no event for the exit alone
        await asyncio.sleep(_POLL)
    return process.returncode


def _signal_group(group: int, sig: signal.Signals) -> None:
    # Gone already; or its id reused by another user's process, not ours to signal.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    """Any process of the group still running; zombies do not count (on hosts whose init
    does not reap orphans they linger, already dead)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    import psutil  # only here: scanning the process table is the slow path

    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == group and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


async def _wait_group_gone(group: int, within: float) -> None:
    deadline = time.monotonic() + within
    # Polled: processes that are not our children signal nothing when they end.
    while _group_alive(group) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(_POLL)


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float | None,  # noqa: ASYNC109 - a result at the timeout, not an exception
    emit: Callable[[str], None] | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run `argv` (no shell), calling `emit(line)` for each output line (stdout and
    stderr merged) as it comes; cut at `timeout` seconds (None: never; the caller may
    cancel instead). The process group is ended on every way out; a cancellation is
    re-raised once it is. A program that cannot start (not found, not executable, no
    such `cwd`) gives a result saying so (`not_started`), not an exception.
    """
    begun = time.monotonic()
    try:
        process = await start_process(argv, cwd=cwd, env=env)
    except OSError as error:
        return _not_started(argv, error, cwd, begun)
    output = CappedOutput(output_limit)
    splitter = LineSplitter()
    last_line = ""

    def take(lines: list[str]) -> None:
        nonlocal last_line
        for line in lines:
            if emit is not None:
                emit(line)
            if line.strip():
                last_line = line

    stdout = process.stdout
    if stdout is None:  # pragma: no cover - start_process always pipes stdout
        raise RuntimeError("no stdout pipe")

    async def pump() -> None:
        while chunk := await stdout.read(_CHUNK):
            output.add(chunk)
            take(splitter.feed(chunk))
        take(splitter.finish())

    pumping = asyncio.create_task(pump())
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await wait_exit(process)
                # The program is done, but a background child may hold the pipe open.
                await asyncio.wait({pumping}, timeout=LINGER)
        except TimeoutError:
            timed_out = True
    finally:
        await end_process_group(process)
        # Killed, the group closes the pipe; a child that left the group might not.
        await asyncio.wait({pumping}, timeout=TERM_GRACE)
        pumping.cancel()
    if not pumping.cancelled():
        pumping.result()  # a failure of `emit` is the caller's to see
    return CommandResult(
        argv=tuple(argv),
        returncode=process.returncode,
        output=output.text(),
        truncated_bytes=output.dropped,
        last_line=last_line[:200],
        elapsed=time.monotonic() - begun,
        timed_out=timed_out,
    )


def _not_started(
    argv: Sequence[str], error: OSError, cwd: Path | str | None, begun: float
) -> CommandResult:
    missing = False
    if isinstance(error, FileNotFoundError) and cwd is not None and str(error.filename) == str(cwd):
        why = f"working directory not found: {cwd}"
    elif isinstance(error, FileNotFoundError):
        why, missing = f"not found: {argv[0]}", True
    elif isinstance(error, PermissionError):
        why = f"permission denied: {error.filename or argv[0]}"
    else:  # e.g. "exec format error": a file that is no program
        why = f"cannot run {argv[0]}: {error.strerror or error}"
    return CommandResult(
        argv=tuple(argv),
        returncode=None,
        output="",
        truncated_bytes=0,
        last_line="",
        elapsed=time.monotonic() - begun,
        not_started=why,
        missing=missing,
    )
