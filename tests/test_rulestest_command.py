"""`lessay-console rules test` as an operator runs it: exit statuses, output, --config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import console_env
from tests.test_rulestest import EXAMPLES, GOOD

CONSOLE = [sys.executable, "-m", "lessay_console"]


def rules_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONSOLE, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=console_env(),
        cwd=cwd,
        check=False,
    )


def test_command_exit_statuses(tmp_path: Path) -> None:
    examples = sorted(str(p) for p in EXAMPLES.glob("*.toml"))
    passed = rules_test("rules", "test", *examples, cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "all passed" in passed.stdout
    assert "the guide's defaults" in passed.stdout

    wrong = tmp_path / "wrong.toml"
    wrong.write_text(GOOD.replace('at = "6m"', 'at = "5m"'))
    failed = rules_test("rules", "test", examples[0], str(wrong), cwd=tmp_path)
    assert failed.returncode == 1
    assert "cpu warning: expected firing, got pending (pending since 1m, value 85)" in (
        failed.stdout
    )
    assert failed.stderr == ""

    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("metric", "metrc").replace('"5', '"5y'))
    broken = rules_test("rules", "test", str(wrong), str(bad), "missing.toml", cwd=tmp_path)
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr
    assert "bad.toml:4: tests[0].series[0].metrc: unknown key" in broken.stderr
    assert "bad.toml: 5 problems found" in broken.stderr
    assert "missing.toml: cannot be read" in broken.stderr
    assert "expected firing, got pending" in broken.stdout  # the good file still ran

    usage = rules_test("rules", "test", cwd=tmp_path)
    assert usage.returncode == 2
    assert "Missing argument" in usage.stderr


def test_command_uses_the_configured_thresholds(tmp_path: Path) -> None:
    config = tmp_path / "console.toml"
    config.write_text("[thresholds.cpu]\nwarning = { above = 40 }\n")
    test = tmp_path / "cpu.toml"
    test.write_text(GOOD.replace('at = "6m"', 'at = "0s"'))  # 50 > 40: firing at once
    assert rules_test("rules", "test", str(test), cwd=tmp_path).returncode == 1
    configured = rules_test("--config", str(config), "rules", "test", str(test), cwd=tmp_path)
    assert configured.returncode == 0, configured.stdout
    assert f"configuration {config}" in configured.stdout
    config.write_text("[thresholds.cpu]\nwarning = { abve = 40 }\n")
    bad = rules_test("--config", str(config), "rules", "test", str(test), cwd=tmp_path)
    assert bad.returncode == 2
    assert "thresholds.cpu.warning.abve: unknown key" in bad.stderr
