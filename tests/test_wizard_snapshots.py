"""Snapshots of the wizard's screens at the smallest supported terminal and a large one.

Deterministic: the scripted monitor frozen at T0 (the payment alert firing), a
user symptom whose checks read that monitor or print fixed text, the incident
number and the checks' timings made constant.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.pilot import Pilot

from lessay_console.checks import runner
from lessay_console.troubleshooting import session
from tests.ui_support import scripted_app, scripted_monitor
from tests.wizard_support import (
    PAYMENT_FAILURES,
    checks_done,
    command_check,
    diagnose,
    open_wizard,
    write_user_symptom,
)

pytestmark = pytest.mark.usefixtures("utc")

SIZES = [(80, 24), (160, 48)]

SYMPTOM = (
    """
[symptom.checkout-broken]
title = "Checkout broken (test)"
description = "Customers cannot pay: a symptom of the operator's own."
alerts = ["payment_success_rate"]
escalation = "Payment Team"
escalate_when = "Payments fail for more than 10 minutes."

[[symptom.checkout-broken.check]]
id = "success-rate"
kind = "metric"
metric = "payment_success_rate"
title = "Payment success rate"
explain = "Below its threshold: customers see failed payments."

[[symptom.checkout-broken.check]]
id = "alerts"
kind = "alerts"
title = "Alerts firing or pending"

"""
    + command_check(
        "release",
        "Deployed release",
        ["printf", "release 2027.01.3 [bold]deployed[/bold]\\nall pods ready\\n"],
        "checkout-broken",
    )
    + """
[[symptom.checkout-broken.resolution]]
title = "Roll back the release"
steps = [
  "Compare the release above with the one before the alert.",
  "Roll back when the failures started with it.",
]
command = ["deploy", "rollback", "checkout"]
command_title = "Roll back checkout"
dangerous = true
"""
)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The incident number and the checks' timings made constant."""
    monkeypatch.setattr(session, "_new_stream", lambda journal, at: "incident/20270115-080000-0001")
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: 100.0))
    write_user_symptom("checkout", SYMPTOM)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_symptom_screen_snapshot(
    snap_compare, frozen: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = scripted_app(scripted_monitor(PAYMENT_FAILURES), tmp_path)

    async def open_it(pilot: Pilot) -> None:
        await open_wizard(pilot, app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_it)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_diagnosis_screen_snapshot(
    snap_compare, frozen: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = scripted_app(scripted_monitor(PAYMENT_FAILURES), tmp_path)

    async def diagnosed(pilot: Pilot) -> None:
        screen = await diagnose(pilot, app, "checkout-broken")
        await checks_done(pilot, screen)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=diagnosed)
