"""The symptom catalog: the guide's rows word for word, user files, suggestions by alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessay_console.checks.catalog import KINDS
from lessay_console.config import Config
from lessay_console.config.loader import parse_config_text
from lessay_console.rules import DisplayState
from lessay_console.troubleshooting.session import suggest
from lessay_console.troubleshooting.symptoms import load_catalog
from tests.ui_support import T0, scripted_monitor

# Guide 2.1: symptom, resolutions, escalation path.
GUIDE_TABLE = {
    "High API latency": (["Check database queries", "Scale API instances"], "Senior Engineer"),
    "Payment failures": (["Verify Stripe API status", "Check error logs"], "Payment Team"),
    "User login issues": (
        ["Review auth service logs", "Check IDP connectivity"],
        "Auth Team",
    ),
}


def test_the_guide_table_is_in_the_catalog_word_for_word() -> None:
    catalog, problems = load_catalog(Config(), directories=[])
    assert problems == []
    for title, (resolutions, team) in GUIDE_TABLE.items():
        symptom = catalog.find(title)
        assert symptom is not None, title
        assert [r.title for r in symptom.resolutions] == resolutions
        assert symptom.escalation == team
        assert symptom.checks, f"{title} has no checks"


def test_every_builtin_symptom_is_usable() -> None:
    catalog, _ = load_catalog(Config(), directories=[])
    assert len(catalog.symptoms) >= 6
    for symptom in catalog.symptoms:
        assert symptom.alerts, symptom.id
        assert symptom.escalation in Config().escalation
        for check in symptom.checks:
            assert check.kind in KINDS
            assert check.timeout > 0
        ids = [c.id for c in symptom.checks]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("High API latency", "high-api-latency"),
        ("high api latency", "high-api-latency"),
        ("payment-failures", "payment-failures"),
        ("  User   login issues ", "login-issues"),
    ],
)
def test_find_by_title_or_id(name: str, expected: str) -> None:
    catalog, _ = load_catalog(Config(), directories=[])
    symptom = catalog.find(name)
    assert symptom is not None and symptom.id == expected


def test_unknown_symptom_gets_suggestions() -> None:
    catalog, _ = load_catalog(Config(), directories=[])
    assert catalog.find("payment failure") is None or catalog.find("payment failure").id
    assert "Payment failures" in catalog.suggestions("Payment failure")


def test_a_user_file_adds_and_replaces(tmp_path: Path) -> None:
    (tmp_path / "queue.toml").write_text(
        """
[symptom.queue-backlog]
title = "Job queue backlog"
alerts = ["api_latency_p95"]
escalation = "Senior Engineer"

[[symptom.queue-backlog.check]]
kind = "command"
argv = ["true"]

[[symptom.queue-backlog.resolution]]
title = "Add workers"
steps = ["Scale the workers."]

[symptom.payment-failures]
title = "Payment failures"
alerts = ["payment_success_rate"]
escalation = "Payment Team"

[[symptom.payment-failures.check]]
kind = "payment_status"

[[symptom.payment-failures.resolution]]
title = "Call the provider"
steps = ["Phone them."]
""",
        encoding="utf-8",
    )
    catalog, problems = load_catalog(Config(), directories=[tmp_path])
    assert problems == []
    added = catalog.find("Job queue backlog")
    assert added is not None and added.origin == str(tmp_path / "queue.toml")
    assert added.checks[0].id == "check-1"
    replaced = catalog.find("payment-failures")
    assert replaced is not None and [r.title for r in replaced.resolutions] == ["Call the provider"]
    assert catalog.find("High API latency") is not None  # the others stay


def test_a_bad_user_file_is_left_out_with_every_problem_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[symptom.Bad_Id]
title = "Broken"
alerts = ["api_latency_p59"]
escalation = "Nobody"

[[symptom.Bad_Id.check]]
kind = "http_helth"

[[symptom.Bad_Id.resolution]]
title = "x"
""",
        encoding="utf-8",
    )
    catalog, problems = load_catalog(Config(), directories=[tmp_path])
    assert catalog.find("Broken") is None
    assert catalog.find("High API latency") is not None
    text = "\n".join(str(p) for p in problems)
    assert f"{bad}:2:" in text  # the id
    assert "did you mean 'api_latency_p99'" in text
    assert f"{bad}:5: " in text and 'add [escalation."Nobody"]' in text
    assert f"{bad}:8: " in text and "did you mean 'http_health'" in text
    assert "steps: is required" in text


def test_a_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[symptom.x\ntitle = 1\n", encoding="utf-8")
    _, problems = load_catalog(Config(), directories=[tmp_path])
    assert len(problems) == 1
    assert problems[0].line == 1 and "TOML syntax error" in problems[0].message


def test_symptoms_beside_the_config_file_are_found(tmp_path: Path) -> None:
    (tmp_path / "symptoms").mkdir()
    (tmp_path / "symptoms" / "x.toml").write_text(
        '[symptom.x]\ntitle = "X thing"\nescalation = "Auth Team"\n'
        '[[symptom.x.check]]\nkind = "alerts"\n'
        '[[symptom.x.resolution]]\ntitle = "t"\nsteps = ["s"]\n',
        encoding="utf-8",
    )
    config = parse_config_text("", str(tmp_path / "lessay-console.toml"), tmp_path)
    catalog, problems = load_catalog(config)
    assert problems == []
    assert catalog.find("X thing") is not None


def test_firing_alerts_put_their_symptom_first() -> None:
    monitor = scripted_monitor(((0, "normal"), (2, "payment-failures")))
    snapshot = monitor.evaluate(T0)
    assert snapshot.metric("payment_success_rate").state.state is DisplayState.FIRING
    catalog, _ = load_catalog(Config(), directories=[])
    suggestions = suggest(catalog, snapshot)
    assert suggestions[0].symptom.title == "Payment failures"
    assert any("Pay success" in reason for reason in suggestions[0].reasons)
    # nothing points at the others: catalog order, no reasons
    assert all(not s.reasons for s in suggestions[1:] if s.symptom.id == "disk-filling")


def test_without_alerts_the_catalog_order_stands() -> None:
    catalog, _ = load_catalog(Config(), directories=[])
    suggestions = suggest(catalog, None)
    assert [s.symptom.id for s in suggestions] == [s.id for s in catalog.symptoms]
    assert all(not s.reasons for s in suggestions)
