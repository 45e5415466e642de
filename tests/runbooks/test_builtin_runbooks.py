"""The built-in runbooks: the maintenance guide's sections 3.1, 3.2 and 4.2, word for word.

The guide's lines are copied here (not read from the guide) so that the tests
run from a clean clone; a change to either side must be made on purpose.
"""

from __future__ import annotations

import pytest

from lessay_console.config import Config
from lessay_console.runbooks.loader import load_runbooks
from lessay_console.runbooks.model import Runbook, Step

# MAINTENANCE_GUIDE.md 3.1 Patch Management
PATCH_MANAGEMENT = [
    "Review patch notes for breaking changes",
    "Apply to staging environment first",
    "Monitor for 24 hours",
    "Deploy to production with canary rollout",
    "Verify metrics post-deployment",
]
# MAINTENANCE_GUIDE.md 3.2 Version Upgrades: phases and their steps
VERSION_UPGRADE = {
    "Preparation": [
        "Notify stakeholders of downtime window",
        "Create database backup snapshot",
        "Document rollback procedure",
    ],
    "Deployment": [
        "Drain traffic from old version",
        "Deploy new version to 10% of nodes",
        "Run migration scripts",
        "Verify critical functionality",
    ],
    "Verification": [
        "Monitor metrics for 1 hour",
        "Run smoke tests",
        "Gradually roll out to 100%",
    ],
}
# MAINTENANCE_GUIDE.md 4.2 Recovery Process
RECOVERY = [
    "Identify last known good backup",
    "Restore database from snapshot",
    "Verify data consistency",
    "Gradually enable traffic",
    "Monitor system health",
    "Conduct post-mortem analysis",
]


@pytest.fixture(scope="module")
def builtins() -> dict[str, Runbook]:
    runbooks, problems = load_runbooks(Config(), directories=[])
    assert problems == []
    return {runbook.id: runbook for runbook in runbooks}


def by_title(runbook: Runbook, title: str) -> Step:
    return next(step for step in runbook.steps if step.title == title)


def test_the_three_builtins_in_the_guides_order(builtins: dict[str, Runbook]) -> None:
    assert list(builtins) == ["patch-management", "version-upgrade", "recovery"]
    assert [r.guide for r in builtins.values()] == ["3.1", "3.2", "4.2"]
    assert {r.origin for r in builtins.values()} == {"built-in"}
    assert all(len(r.digest) == 64 for r in builtins.values())


def test_patch_management_is_the_guide_word_for_word(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["patch-management"]
    assert runbook.title == "Patch Management"
    assert [s.title for s in runbook.steps] == PATCH_MANAGEMENT
    assert [p.name for p in runbook.params] == ["version"]


def test_version_upgrade_is_the_guide_word_for_word(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["version-upgrade"]
    assert runbook.title == "Version Upgrade"
    assert {p.title: [s.title for s in p.steps] for p in runbook.phases} == VERSION_UPGRADE
    assert [p.title for p in runbook.phases] == list(VERSION_UPGRADE)
    assert [p.name for p in runbook.params] == ["version"]


def test_recovery_is_the_guide_word_for_word(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["recovery"]
    assert [s.title for s in runbook.steps] == RECOVERY
    assert runbook.params == ()


def test_patch_management_steps(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["patch-management"]
    assert [s.kind for s in runbook.steps] == ["manual", "command", "watch", "rollout", "check"]
    review, staging, monitor, canary, verify = runbook.steps
    assert review.note == "required"
    assert staging.command is not None and staging.command.named == "staging_apply"
    assert monitor.watch is not None
    assert (monitor.watch.duration, monitor.watch.alerts) == (24 * 3600, ())
    assert monitor.watch.fail_on == "critical"
    assert canary.rollout is not None
    assert canary.rollout.stages == (10, 25, 50, 100)
    assert canary.rollout.command.named == "deploy"
    assert canary.rollout.rollback is not None and canary.rollout.rollback.named == "rollback"
    assert [c.kind for c in canary.rollout.verify] == ["http_health", "metric", "alerts"]
    assert [(c.kind, dict(c.params).get("metric")) for c in verify.checks] == [
        ("alerts", None),
        ("metric", "api_error_rate"),
        ("metric", "api_latency_p95"),
    ]


def test_version_upgrade_steps(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["version-upgrade"]
    kinds = [s.kind for s in runbook.steps]
    assert kinds == [
        "manual",
        "command",
        "manual",
        "command",
        "rollout",
        "command",
        "check",
        "watch",
        "command",
        "rollout",
    ]
    assert by_title(runbook, "Document rollback procedure").note == "required"
    named = {s.title: s.command.named for s in runbook.steps if s.command is not None}
    assert named == {
        "Create database backup snapshot": "backup_snapshot",
        "Drain traffic from old version": "drain",
        "Run migration scripts": "migrate",
        "Run smoke tests": "smoke_test",
    }
    dangerous = [s.title for s in runbook.steps if s.command and s.command.dangerous]
    assert dangerous == ["Run migration scripts"]
    canary = by_title(runbook, "Deploy new version to 10% of nodes").rollout
    assert canary is not None and canary.stages == (10,)
    assert canary.command.named == "deploy"
    assert [c.kind for c in canary.verify] == ["http_health", "alerts"]
    critical = by_title(runbook, "Verify critical functionality")
    assert [c.kind for c in critical.checks] == ["http_health", "oidc", "payment_status", "alerts"]
    watch = by_title(runbook, "Monitor metrics for 1 hour").watch
    assert watch is not None and watch.duration == 3600
    full = by_title(runbook, "Gradually roll out to 100%").rollout
    assert full is not None and full.stages == (25, 50, 100)
    assert full.rollback is not None and full.rollback.named == "rollback"
    assert full.verify


def test_recovery_steps(builtins: dict[str, Runbook]) -> None:
    runbook = builtins["recovery"]
    identify, restore, consistency, traffic, monitor, post_mortem = runbook.steps
    assert identify.kind == "manual" and identify.note == "required"
    assert identify.choose == "backup"  # candidates from the backup catalog
    assert "lessay-console backups" in identify.instructions
    assert restore.command is not None
    assert (restore.command.named, restore.command.dangerous) == ("restore", True)
    assert [c.kind for c in consistency.checks] == ["consistency", "postgres_activity", "alerts"]
    assert traffic.rollout is not None and traffic.rollout.stages == (10, 50, 100)
    assert traffic.rollout.command.named == "traffic"
    assert [c.kind for c in traffic.rollout.verify] == ["http_health", "alerts"]
    assert monitor.watch is not None and monitor.watch.duration == 3600
    assert post_mortem.kind == "manual" and post_mortem.note == "required"


def test_every_step_says_what_to_do(builtins: dict[str, Runbook]) -> None:
    for runbook in builtins.values():
        assert runbook.description, runbook.id
        for step in runbook.steps:
            assert step.instructions.strip(), f"{runbook.id}: {step.title}"
