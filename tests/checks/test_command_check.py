"""The `command` check and `run_command`: real programs, real process groups, no shell."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from lessay_console.checks.command import run_command
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.config import Config
from tests.helpers import await_until

ESC, BEL, CSI_C1 = "\x1b", "\x07", "\x9b"


class Lines:
    """What `ctx.output` received, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, check_id: str, line: str) -> None:
        assert check_id == "cmd"
        self.lines.append(line)


def spec(limit: float = 10.0, **params: Any) -> CheckSpec:
    return CheckSpec("cmd", "command", "Command", params, limit)


async def run(
    limit: float = 10.0, output: Lines | None = None, read_only: bool = False, **params: Any
) -> CheckResult:
    ctx = CheckContext(config=Config(), output=output, read_only=read_only)
    return await run_check(spec(limit, **params), ctx)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie (this host's init may not reap orphans)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def group_members(group: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(proc.pid) == group and not gone(proc.pid):
                members.append(proc.pid)
    return members


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups a test started; killed at teardown should the code under test fail."""
    started: list[int] = []
    yield started
    for group in started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


async def test_a_command_that_succeeds_passes_with_its_output() -> None:
    result = await run(argv=python("print('hello'); print('done')"))
    assert result.status == CheckStatus.PASS
    assert result.summary == "exit 0: done"
    assert result.detail == ("hello", "done")
    assert result.data["exit_code"] == 0
    assert result.data["output"] == "hello\ndone\n"
    assert result.data["truncated_bytes"] == 0
    assert result.data["argv"] == python("print('hello'); print('done')")


async def test_a_wrong_exit_code_fails_with_the_last_output_line() -> None:
    result = await run(argv=["sh", "-c", "echo starting; echo boom >&2; exit 3"])
    assert result.status == CheckStatus.FAIL
    assert result.summary == "exit 3 (expected 0): boom"  # stderr is merged into the output
    assert result.data["exit_code"] == 3


async def test_the_expected_exit_code_is_the_one_given() -> None:
    result = await run(argv=["sh", "-c", "exit 3"], expect_exit=3)
    assert result.status == CheckStatus.PASS
    assert result.summary == "exit 3"
    result = await run(argv=["true"], expect_exit=3)
    assert result.status == CheckStatus.FAIL
    assert result.summary == "exit 0 (expected 3)"


async def test_a_command_killed_by_a_signal_says_which() -> None:
    result = await run(argv=["sh", "-c", "echo going; kill -TERM $$"])
    assert result.status == CheckStatus.FAIL
    assert result.summary == "killed by SIGTERM (expected exit 0): going"
    assert result.data["signal"] == "SIGTERM"


async def test_a_hanging_command_is_cut_and_its_whole_group_ends(groups: list[int]) -> None:
    output = Lines()
    # sh, a background sleep, an orphaned grandchild sleep (its subshell exits), a foreground one
    script = "echo $$; (sleep 300 &); sleep 300 & echo ready; sleep 300"
    task = asyncio.create_task(run(limit=1.0, output=output, argv=["sh", "-c", script]))

    async def ready() -> bool:
        return "ready" in output.lines

    await await_until(ready, within=5, interval=0.01)
    group = int(output.lines[0])
    groups.append(group)
    members = group_members(group)
    assert group in members
    assert len(members) >= 3, members  # sh and two sleeps so far (the last one starts next)
    assert not task.done()

    result = await task
    assert result.status == CheckStatus.ERROR
    assert "cut at its timeout" in result.summary
    assert [pid for pid in members if not gone(pid)] == []
    assert group_members(group) == []


async def test_background_children_left_running_are_ended_when_the_command_finishes(
    groups: list[int],
) -> None:
    # The program exits at once; its background child still holds the output pipe open.
    result = await run(argv=["sh", "-c", "sleep 300 & echo $!; echo $$"])
    groups.append(int(result.detail[1]))
    assert result.status == CheckStatus.PASS
    assert gone(int(result.detail[0]))
    assert group_members(int(result.detail[1])) == []


async def test_run_command_cuts_at_its_own_timeout(groups: list[int]) -> None:
    lines: list[str] = []
    result = await run_command(
        ["sh", "-c", "echo $$; sleep 300 & sleep 300"], timeout=0.3, emit=lines.append
    )
    groups.append(int(lines[0]))
    assert result.timed_out
    assert result.signal_name == "SIGTERM"
    assert group_members(int(lines[0])) == []


async def test_run_command_ends_the_group_when_its_caller_is_cancelled(groups: list[int]) -> None:
    lines: list[str] = []
    task = asyncio.create_task(
        run_command(["sh", "-c", "echo $$; sleep 300"], timeout=None, emit=lines.append)
    )

    async def started() -> bool:
        return bool(lines)

    await await_until(started, within=5, interval=0.01)
    groups.append(int(lines[0]))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group_members(int(lines[0])) == []


async def test_run_command_reports_what_it_could_not_start(tmp_path: Path) -> None:
    missing = await run_command(["lessay-no-such-program"], timeout=5)
    assert (missing.returncode, missing.missing) == (None, True)
    assert missing.verdict() == (CheckStatus.SKIPPED, "not found: lessay-no-such-program")
    nowhere = await run_command(["pwd"], timeout=5, cwd=tmp_path / "missing")
    assert nowhere.missing is False
    assert nowhere.verdict() == (
        CheckStatus.ERROR,
        f"working directory not found: {tmp_path / 'missing'}",
    )


async def test_journal_fields_record_the_run() -> None:
    result = await run_command(["sh", "-c", "echo out; exit 2"], timeout=5)  # no emit: fine
    assert result.journal_fields() == {
        "status": "fail",
        "summary": "exit 2 (expected 0): out",
        "exit_code": 2,
        "signal": None,
        "timed_out": False,
        "output": "out\n",
        "truncated_bytes": 0,
        "elapsed": round(result.elapsed, 3),
    }
    assert result.journal_fields(expect_exit=2)["status"] == "pass"
    cut = await run_command(["sleep", "300"], timeout=0.2)
    assert cut.journal_fields()["status"] == "error"
    assert cut.journal_fields()["summary"].startswith("cut at its timeout after 0.")


async def test_lines_stream_through_ctx_output_before_the_command_ends(tmp_path: Path) -> None:
    output = Lines()
    gate = tmp_path / "go"
    script = f"echo first; while [ ! -e '{gate}' ]; do sleep 0.01; done; echo second"
    task = asyncio.create_task(run(output=output, argv=["sh", "-c", script]))

    async def first_arrived() -> bool:
        return output.lines == ["first"]

    await await_until(first_arrived, within=5, interval=0.01)
    assert not task.done()
    gate.touch()
    result = await task
    assert output.lines == ["first", "second"]
    assert result.status == CheckStatus.PASS


HOSTILE = (
    "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
    "\x1b]0;owned\x07"  # OSC 0: retitle the window
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8: a hyperlink
    "\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home
    "\x9b31m"  # a one-byte C1 CSI
    " [bold red]not markup[/] [link=https://evil.example]x[/link]"
)


async def test_escape_sequences_and_markup_in_output_are_shown_literally() -> None:
    output = Lines()
    code = f"import sys; sys.stdout.write({HOSTILE!r} + '\\n'); sys.exit(1)"
    result = await run(output=output, argv=python(code))
    texts = [result.summary, *result.detail, result.data["output"], *output.lines]
    for text in texts:
        assert ESC not in text and BEL not in text and CSI_C1 not in text, text
    for text in (result.summary, result.detail[0], result.data["output"], output.lines[0]):
        assert "[bold red]not markup[/] [link=https://evil.example]x[/link]" in text
        assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in text
    assert result.status == CheckStatus.FAIL


async def test_huge_output_keeps_its_head_and_tail_within_the_limit() -> None:
    output = Lines()
    code = "for i in range(100_000): print(f'line {i:06d} ' + 'x' * 50)"
    result = await run(output=output, argv=python(code), output_limit=4096)
    total = 100_000 * len("line 000000 " + "x" * 50 + "\n")
    kept = result.data["output"]
    assert result.data["truncated_bytes"] == total - 4096
    assert kept.startswith("line 000000 ")
    assert kept.endswith("line 099999 " + "x" * 50 + "\n")
    assert f"[… {total - 4096:,} bytes of output dropped …]" in kept
    assert len(kept.encode()) < 4096 + 100
    assert len(output.lines) == 100_000  # streamed in full, kept in part
    assert result.status == CheckStatus.PASS


async def test_a_huge_line_is_streamed_capped() -> None:
    output = Lines()
    result = await run(output=output, argv=python("print('y' * 10_000_000)"))
    assert len(output.lines) == 1
    assert output.lines[0].startswith("y" * 4096 + " … [9,995,904 more bytes]")
    assert len(result.data["output"]) < 70_000


async def test_a_missing_executable_is_skipped_naming_it() -> None:
    result = await run(argv=["lessay-no-such-program", "--help"])
    assert result.status == CheckStatus.SKIPPED
    assert result.summary == "not found: lessay-no-such-program"


async def test_a_file_that_may_not_be_run_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    result = await run(argv=[str(script)])
    assert result.status == CheckStatus.ERROR
    assert result.summary == f"permission denied: {script}"


async def test_read_only_mode_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = await run(read_only=True, argv=["touch", str(marker)])
    assert result.status == CheckStatus.SKIPPED
    assert "read-only" in result.summary
    assert not marker.exists()
    result = await run(argv=["touch", str(marker)])  # the same spec does run otherwise
    assert marker.exists()


async def test_the_working_directory_is_used_and_checked(tmp_path: Path) -> None:
    result = await run(argv=["pwd"], cwd=tmp_path)
    assert result.detail == (str(tmp_path),)
    result = await run(argv=["pwd"], cwd=tmp_path / "missing")
    assert result.status == CheckStatus.ERROR
    assert result.summary == f"working directory not found: {tmp_path / 'missing'}"


async def test_no_shell_is_involved() -> None:
    result = await run(argv=["echo", "$HOME", ";", "rm", "-rf", "*"])
    assert result.detail == ("$HOME ; rm -rf *",)


async def test_an_empty_argv_is_an_error() -> None:
    result = await run(argv=[])
    assert result.status == CheckStatus.ERROR
    assert "argv" in result.summary
