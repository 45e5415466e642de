"""Runbooks built in code, a journal in a temp dir, a clock the test moves."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from lessay_console.checks.model import CheckSpec
from lessay_console.config import Config
from lessay_console.identity import Operator
from lessay_console.journal import Journal, journal_path
from lessay_console.runbooks.engine import RunDeps
from lessay_console.runbooks.model import (
    CommandSpec,
    Phase,
    RolloutSpec,
    Runbook,
    RunbookParam,
    Step,
    WatchSpec,
)

OPERATOR = Operator("dana", "bastion-1", "10.0.0.7")
T0 = 1_800_000_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


def sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


def command_check(check_id: str, script: str) -> CheckSpec:
    return CheckSpec(check_id, "command", check_id, {"argv": list(sh(script))}, 10.0)


@dataclass
class Bench:
    tmp: Path
    clock: Clock = field(default_factory=Clock)
    config: Config = field(default_factory=Config)
    journal: Journal | None = None

    def deps(self, operator: Operator = OPERATOR) -> RunDeps:
        if self.journal is None:
            self.journal = Journal.open(journal_path(self.tmp), operator)
        return RunDeps(self.config, self.journal, operator, metrics=None, clock=self.clock)

    def fresh_deps(self, operator: Operator) -> RunDeps:
        """Another console: its own journal connection, as after a restart."""
        return RunDeps(
            self.config, Journal.open(journal_path(self.tmp), operator), operator, clock=self.clock
        )


def every_kind_runbook(tmp: Path) -> Runbook:
    """One step of each kind; the rollout appends each stage to a file it verifies."""
    stages = tmp / "stages.txt"
    return Runbook(
        id="drill",
        title="Drill",
        description="every step kind",
        params=(RunbookParam("version", "Version"),),
        phases=(
            Phase(
                "Preparation",
                (
                    Step("notify", "Notify stakeholders", "manual"),
                    Step("document", "Document rollback procedure", "manual", note="required"),
                    Step("checks", "Verify health", "check", checks=(command_check("ok", "true"),)),
                ),
            ),
            Phase(
                "Deployment",
                (
                    Step(
                        "migrate",
                        "Run migration scripts",
                        "command",
                        command=CommandSpec(argv=sh("echo migrating to {version}")),
                    ),
                    Step(
                        "rollout",
                        "Roll out",
                        "rollout",
                        rollout=RolloutSpec(
                            stages=(10.0, 50.0, 100.0),
                            command=CommandSpec(argv=sh(f"echo {{percent}} >> {stages}")),
                            verify=(command_check("deployed", f"test -s {stages}"),),
                            verify_within=1.0,
                            rollback=CommandSpec(argv=sh(f"echo rolled-back >> {stages}")),
                        ),
                    ),
                    Step("watch", "Monitor for 10 minutes", "watch", watch=WatchSpec(600.0)),
                    Step(
                        "python",
                        "Print the interpreter",
                        "command",
                        command=CommandSpec(argv=(sys.executable, "-c", "print('ok')")),
                    ),
                ),
            ),
        ),
    )
