"""The `logs` check on real files: the demo backend's, and files written here."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from lessay_console.checks.logs import LINE_LIMIT, READ_BUDGET
from lessay_console.checks.model import CheckContext, CheckResult, CheckSpec, CheckStatus
from lessay_console.checks.runner import run_check
from lessay_console.config import Config
from lessay_console.config.model import LogSource
from lessay_console.demo import DemoBackend
from tests.helpers import await_until

NOW = 1_764_460_800.0  # 2025-11-30T00:00:00Z: the checks' clock in the file tests


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def iso_seconds(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def record(moment: float, level: str = "info", msg: str = "request completed", **extra: Any) -> str:
    return json.dumps({"ts": iso(moment), "level": level, "msg": msg, **extra}) + "\n"


async def run(
    config: Config | None = None, clock: float | None = NOW, limit: float = 10.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(config=config or Config())
    if clock is not None:
        ctx.clock = lambda: clock
    return await run_check(CheckSpec("logs", "logs", "Logs", params, limit), ctx)


# -- the demo backend's logs -----------------------------------------------------------


def count_in_window(path: Path, cutoff: float) -> tuple[int, int]:
    """(lines, errors) of a JSON-lines file at or after `cutoff`, counted independently."""
    lines = errors = 0
    for text in path.read_text().splitlines():
        entry = json.loads(text)
        if datetime.fromisoformat(entry["ts"]).timestamp() >= cutoff:
            lines += 1
            errors += entry["level"] == "error"
    return lines, errors


async def test_demo_logs_in_the_normal_scenario_count_as_the_file_says(tmp_path: Path) -> None:
    with DemoBackend(scenario="normal", data_dir=tmp_path / "demo") as backend:
        paths = backend.log_paths
    # Stopped: the files hold still. The clock is the last line's time.
    api = paths["api"]
    last = json.loads(api.read_text().splitlines()[-1])
    now = datetime.fromisoformat(last["ts"]).timestamp()
    lines, errors = count_in_window(api, now - 120)
    assert errors > 0  # the normal scenario has a baseline of errors: the count means something
    config = Config(logs={name: LogSource(file=path) for name, path in paths.items()})

    result = await run(config, clock=now, service="api", since="2m", fail_at=1000, lines=5)

    assert result.summary.startswith(f"api: {errors} errors in the last 2m ({lines:,} lines read)")
    assert result.data["errors"] == errors
    assert result.data["lines_read"] == lines
    assert result.status == CheckStatus.WARN
    assert len(result.detail) == min(5, errors)
    assert all('"level":"error"' in line for line in result.detail)
    assert result.data["files"] == [str(api)]


async def test_demo_payment_failures_show_in_the_payments_log() -> None:
    with DemoBackend(scenario="payment-failures") as backend:
        payments = backend.log_paths["payments"]

        async def stripe_errors() -> bool:
            return payments.read_text().count("Stripe API request failed") >= 20

        await await_until(stripe_errors, within=10)
        config = Config(
            logs={name: LogSource(file=path) for name, path in backend.log_paths.items()}
        )
        result = await run(config, clock=None, service="payments")

    assert result.status == CheckStatus.FAIL  # dozens of errors against fail_at = 10
    assert result.data["errors"] >= 10
    assert result.data["most_frequent"]["message"] == "Stripe API request failed"
    assert "most frequent" in result.summary and "Stripe API request failed" in result.summary
    assert len(result.detail) == 20
    assert all("Stripe API request failed" in line for line in result.detail)


# -- files written here ------------------------------------------------------------------


async def test_only_lines_inside_the_window_count(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    old = [record(NOW - 600 + i, "error", "old failure") for i in range(5)]
    new = [record(NOW - 100 + i, "error", "new failure") for i in range(3)]
    new += [record(NOW - 50 + i) for i in range(4)]
    log.write_text("".join(old + new))

    result = await run(file=str(log), since="5m")

    assert result.data["errors"] == 3
    assert result.data["lines_read"] == 7
    assert result.summary == (
        "app.jsonl: 3 errors in the last 5m (7 lines read); most frequent (3): new failure"
    )
    assert result.status == CheckStatus.WARN
    assert all("new failure" in line for line in result.detail)


async def test_thresholds_decide_the_status(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("".join(record(NOW - 10, "error") for _ in range(4)))
    assert (await run(file=str(log), warn_at=5, fail_at=10)).status == CheckStatus.PASS
    assert (await run(file=str(log), warn_at=2, fail_at=10)).status == CheckStatus.WARN
    assert (await run(file=str(log), warn_at=2, fail_at=4)).status == CheckStatus.FAIL


async def test_levels_and_times_in_other_json_shapes(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    lines = [
        json.dumps({"time": NOW - 30, "severity": "CRITICAL", "message": "disk full"}),
        json.dumps({"timestamp": (NOW - 20) * 1000, "level": "fatal", "msg": "gone"}),
        json.dumps({"timestamp": (NOW - 900) * 1000, "level": "fatal", "msg": "long ago"}),
        json.dumps({"time": NOW - 10, "level": "warning", "msg": "ERROR in a warning"}),
    ]
    log.write_text("\n".join(sorted(lines, key=lambda t: "long ago" not in t)) + "\n")
    result = await run(file=str(log))
    assert result.data["errors"] == 2  # the level decides, not the words in the message
    assert result.data["lines_read"] == 3


async def test_plain_lines_with_iso_timestamps_and_the_default_pattern(tmp_path: Path) -> None:
    log = tmp_path / "app.log"

    def line(offset: float, text: str) -> str:
        stamp = datetime.fromtimestamp(NOW - offset, UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        return f"{stamp}Z {text}\n"

    log.write_text(
        line(700, "ERROR too old")
        + line(200, "ERROR payment 1234 declined")
        + line(150, "INFO error handled")  # lower case: not the pattern
        + line(120, "CRITICAL payment 5678 declined")
        + line(100, "ERROR payment 999 declined")
        + "Traceback (most recent call last):\n"  # a continuation: no time of its own
        + '  File "app.py", line 3\n'
        + line(60, "WARNING ERRORS_TOTAL metric renamed")  # not ERROR as a word
        + line(30, "panic: runtime error")
    )
    result = await run(file=str(log))
    assert result.data["errors"] == 5
    assert result.data["lines_read"] == 8
    assert result.detail[-1].endswith("panic: runtime error")
    result = await run(file=str(log), error_pattern=r"declined")
    assert result.data["errors"] == 3
    # numbers blanked, the time left out: one cause, one message
    assert result.data["most_frequent"] == {"message": "ERROR payment # declined", "count": 2}


async def test_plain_lines_with_syslog_timestamps(tmp_path: Path) -> None:
    now = time.time()  # syslog times are local and have no year: judged against the real clock
    log = tmp_path / "syslog"

    def line(offset: float, text: str) -> str:
        return time.strftime("%b %e %H:%M:%S", time.localtime(now - offset)) + f" web1 {text}\n"

    log.write_text(line(900, "app[1]: ERROR old") + line(60, "app[1]: ERROR new") + line(5, "ok"))
    result = await run(clock=now, file=str(log), since="5m")
    assert result.data["errors"] == 1
    assert result.data["lines_read"] == 2
    assert result.data["window_judged"] is True


async def test_lines_without_timestamps_count_the_tail_and_say_so(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("starting\nERROR one\nfine\nFATAL two\n")
    result = await run(file=str(log), since="5m")
    assert result.data["window_judged"] is False
    assert result.data["errors"] == 2
    assert result.summary.startswith(
        "plain.log: 2 errors in the last 4 lines (no timestamps: the 5m window could not be judged)"
    )


async def test_the_rotated_file_is_read_when_the_window_reaches_into_it(tmp_path: Path) -> None:
    log = tmp_path / "api.jsonl"
    rotated = tmp_path / "api.jsonl.1"
    rotated.write_text(
        "".join(record(NOW - 500 + i, "error", "before the window") for i in range(3))
        + "".join(record(NOW - 250 + i, "error", "rotated away") for i in range(2))
    )
    log.write_text("".join(record(NOW - 100 + i, "error", "current") for i in range(3)))

    result = await run(file=str(log), since="5m")
    assert result.data["errors"] == 5
    assert result.data["files"] == [str(log), str(rotated)]
    assert [line.count("rotated away") for line in result.detail] == [1, 1, 0, 0, 0]

    result = await run(file=str(log), since="1m")  # the window ends in the current file
    assert result.data["errors"] == 0
    assert result.data["files"] == [str(log)]


async def test_a_50_mb_file_is_read_within_the_budget(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    line = record(NOW - 1, "error", "busy", pad="x" * 100).encode()
    block = line * (1024 * 1024 // len(line))
    with log.open("wb") as handle:
        for _ in range(50):
            handle.write(block)
    assert log.stat().st_size > 49 * 1024 * 1024

    began = time.monotonic()
    result = await run(file=str(log), since="1h", limit=30)
    elapsed = time.monotonic() - began

    assert result.data["bytes_read"] <= READ_BUDGET
    assert result.data["bytes_read"] > READ_BUDGET - 2 * len(line)
    assert result.data["complete"] is False
    assert result.data["errors"] == result.data["bytes_read"] // len(line)
    assert "only the last 8 MiB read" in result.summary
    assert elapsed < 10  # the budget, not the file, sets the cost


async def test_a_huge_single_line_is_cut_at_4_kib(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    stamp = iso(NOW - 10)
    with log.open("w") as handle:
        handle.write(f"{stamp} ERROR huge: " + "z" * (6 * 1024 * 1024) + "\n")
        handle.write(f"{stamp} ERROR small\n")
    result = await run(file=str(log))
    assert result.data["errors"] == 2
    assert result.data["truncated_lines"] == 1
    huge = result.detail[-2]
    assert huge.startswith(f"{stamp} ERROR huge: zzz")
    assert len(huge) < LINE_LIMIT + 64
    assert huge.endswith("more bytes]")
    assert result.detail[-1] == f"{stamp} ERROR small"


async def test_a_line_longer_than_the_budget_ends_the_reading(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    with log.open("w") as handle:
        handle.write(f"{iso(NOW - 10)} ERROR " + "z" * (READ_BUDGET + 1024) + "\n")
        handle.write(f"{iso(NOW - 5)} ERROR after\n")
    result = await run(file=str(log))
    assert result.data["errors"] == 1
    assert result.data["complete"] is False
    assert result.data["bytes_read"] == READ_BUDGET


async def test_escape_sequences_and_markup_come_out_inert(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    hostile = (
        "ERROR \x1b]52;c;cm0gLXJmIH4=\x07 \x1b]0;owned\x07 "
        "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ \x1b[2J\x9b31m "
        "[bold red]not markup[/]"
    )
    log.write_text(f"{iso(NOW - 10)} {hostile}\n" + record(NOW - 5, "error", hostile))
    result = await run(file=str(log))
    assert result.data["errors"] == 2
    texts = [result.summary, *result.detail, json.dumps(result.data)]
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "[bold red]not markup[/]" in result.detail[0]
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in result.detail[0]
    assert "[bold red]not markup[/]" in result.summary  # the most frequent message, inert


async def test_malformed_json_lines_are_read_as_text(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        record(NOW - 40, "error", "valid")
        + '{"ts": "broken\n'
        + "{not json at all ERROR}\n"
        + "[1, 2, 3]\n"
        + record(NOW - 20, "info")
    )
    result = await run(file=str(log))
    assert result.data["malformed_lines"] == 2
    assert result.data["errors"] == 2  # the valid error, and the broken line saying ERROR
    assert result.data["lines_read"] == 5
    assert "(2 malformed JSON lines, read as plain text)" in result.detail


async def test_a_missing_file_fails(tmp_path: Path) -> None:
    result = await run(file=str(tmp_path / "nowhere.log"))
    assert result.status == CheckStatus.FAIL
    assert result.summary == f"log file not found: {tmp_path / 'nowhere.log'}"


async def test_an_unconfigured_service_is_skipped_naming_its_section() -> None:
    result = await run(Config(logs={"api": LogSource(journald_unit="lessay-api")}), service="auth")
    assert result.status == CheckStatus.SKIPPED
    assert "[logs.auth]" in result.summary


async def test_no_source_at_all_is_an_error() -> None:
    result = await run()
    assert result.status == CheckStatus.ERROR


async def test_a_bad_error_pattern_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\n")
    result = await run(file=str(log), error_pattern="(unclosed")
    assert result.status == CheckStatus.ERROR
    assert "bad parameter" in result.summary


# -- journald --------------------------------------------------------------------------


async def test_journald_without_journalctl_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a host where journalctl is not installed
    config = Config(logs={"api": LogSource(journald_unit="lessay-api")})
    result = await run(config, service="api")
    assert result.status == CheckStatus.SKIPPED
    assert result.summary == "journalctl not found on this host"


async def test_journald_on_this_host() -> None:
    config = Config(logs={"api": LogSource(journald_unit="lessay-console-test-none.service")})
    result = await run(config, clock=None, service="api")
    if shutil.which("journalctl") is None:
        assert result.status == CheckStatus.SKIPPED
        assert result.summary == "journalctl not found on this host"
    elif os.geteuid() == 0:  # no such unit: nothing logged, whatever the journal holds
        assert result.status == CheckStatus.PASS, result.summary
        assert result.summary == "api: 0 errors in the last 5m (0 lines read)"
        assert result.data["source"] == "journald"
    else:  # an unprivileged user: the journal is refused, or may be hidden
        assert result.status in (CheckStatus.PASS, CheckStatus.ERROR)
        if result.status == CheckStatus.ERROR:
            assert "journal" in result.summary


def stand_in_journalctl(
    bin_dir: Path, stdout: str, stderr: str = "", code: int = 0, then: str = ""
) -> Path:
    """An executable named journalctl that prints what is given and records its argv.

    The journal of the machine running the tests is empty or unreadable, so journalctl's
    output (its documented JSON export) is given by this stand-in.
    """
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "out.json").write_text(stdout)
    (bin_dir / "err.txt").write_text(stderr)
    script = bin_dir / "journalctl"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{bin_dir}/argv"\n'
        f'cat "{bin_dir}/out.json"\n'
        f'cat "{bin_dir}/err.txt" >&2\n'
        f"{then}\n"
        f"exit {code}\n"
    )
    script.chmod(0o755)
    return bin_dir / "argv"


def journal_entry(moment: float, priority: int, message: Any) -> str:
    return json.dumps(
        {
            "__REALTIME_TIMESTAMP": str(int(moment * 1e6)),
            "PRIORITY": str(priority),
            "MESSAGE": message,
            "_SYSTEMD_UNIT": "lessay-api.service",
        }
    )


async def test_journal_entries_are_counted_by_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [
        journal_entry(NOW - 60, 6, "request completed"),
        journal_entry(NOW - 50, 3, "db timeout after 5000 ms"),
        journal_entry(NOW - 40, 2, list(b"critical \xff bytes")),
        journal_entry(NOW - 30, 4, "warning only"),
        journal_entry(NOW - 20, 3, "db timeout after 7000 ms"),
        "not json",
    ]
    argv_file = stand_in_journalctl(tmp_path / "bin", "\n".join(entries) + "\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    config = Config(logs={"api": LogSource(journald_unit="lessay-api")})

    result = await run(config, service="api", lines=2)

    argv = argv_file.read_text().split("\n")[:-1]
    since = f"@{int(NOW - 300)}"
    assert argv == ["-u", "lessay-api", "--since", since, "-o", "json", "--no-pager", "-q"]
    assert result.data["errors"] == 3
    assert result.data["lines_read"] == 5
    assert result.data["most_frequent"] == {"message": "db timeout after # ms", "count": 2}
    assert result.status == CheckStatus.WARN
    assert result.detail == (
        "(1 line not JSON, left out)",
        f"{iso_seconds(NOW - 40)} critical \ufffd bytes",  # not UTF-8: replaced, not dropped
        f"{iso_seconds(NOW - 20)} db timeout after 7000 ms",
    )


async def test_an_unreadable_journal_is_an_error_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    denied = "No journal files were opened due to insufficient permissions."
    stand_in_journalctl(tmp_path / "bin", "", stderr=denied + "\n", code=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    result = await run(unit="lessay-api")
    assert result.status == CheckStatus.ERROR
    assert result.summary == f"journalctl cannot read lessay-api: {denied}"


async def test_a_journalctl_that_hangs_is_killed_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pids"
    # a follower that never ends, with a child of its own
    stand_in_journalctl(
        tmp_path / "bin",
        journal_entry(NOW - 5, 3, "x") + "\n",
        then=f"sleep 300 & echo $$ $! > {pid_file}; wait",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")

    result = await run(unit="lessay-api", limit=0.5)

    assert result.status == CheckStatus.ERROR
    assert "cut at its timeout" in result.summary
    pids = [int(pid) for pid in pid_file.read_text().split()]
    assert len(pids) == 2
    for pid in pids:  # gone, or dead and not reaped (this host's init may not reap)
        with contextlib.suppress(psutil.NoSuchProcess):
            assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert result.elapsed < 0.5 + 1.0  # the timeout, then the kill (no grace spent)
