"""The troubleshooting wizard with Textual's pilot, against a real demo backend.

`t` opens the symptoms (those the firing alerts point to first); choosing one
runs its checks with the results streaming in, each recorded in the journal
before it is shown; escalation, notes, export and confirmed actions are keys
away, and every one of them leaves its event in the journal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TextArea

from lessay_console.checks.model import CheckResult
from lessay_console.demo.backend import DemoBackend
from lessay_console.journal import journal_path, verify
from lessay_console.screens.dashboard import DashboardScreen
from lessay_console.screens.diagnosis import RUNNING, DiagnosisScreen
from lessay_console.screens.escalation import EscalationScreen
from lessay_console.widgets.prompts import ConfirmCommand, NoteInput
from tests.ui_support import OPERATOR, scripted_app, scripted_monitor
from tests.wizard_support import (
    PAYMENT_FAILURES,
    check_rows,
    checks_done,
    command_check,
    demo_app,
    detail,
    diagnose,
    journal_events,
    kinds,
    open_wizard,
    output_lines,
    progress,
    symptom_rows,
    text_of,
    toml_list,
    until,
    write_user_symptom,
)

pytestmark = pytest.mark.usefixtures("utc")

SIZE = (120, 40)
PAYMENT_CHECKS = ["provider-status", "payment-success", "payment-logs", "provider-path"]


@pytest.fixture
def backend() -> Iterator[DemoBackend]:
    with DemoBackend(scenario="payment-failures") as demo:
        yield demo


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


# -- alert-driven suggestion --------------------------------------------------------
async def test_the_firing_payment_alert_puts_payment_failures_first(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(PAYMENT_FAILURES), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot, app)
        rows = symptom_rows(screen)
        first_id, first = rows[0]
        assert first_id == "payment-failures"
        assert first.startswith("▶ Payment failures  → Payment Team")
        assert "alerts: Pay success CRIT 71.2%" in first
        # the others follow, every one of the catalog still there
        ids = [symptom_id for symptom_id, _ in rows]
        assert {"high-api-latency", "login-issues"} <= set(ids[1:])
        suggested = [symptom_id for symptom_id, prompt in rows if prompt.startswith("▶")]
        assert ids[: len(suggested)] == suggested  # suggested ones before the rest
        heading = str(screen.query_one("#symptoms-title").render())
        assert heading.endswith(f"▶ {len(suggested)} suggested by the alerts")
        assert screen.query_one("#symptoms", OptionList).highlighted == 0
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_without_alerts_the_catalog_keeps_its_order(tmp_path: Path) -> None:
    app = scripted_app(scripted_monitor(((0, "normal"),)), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        rows = symptom_rows(await open_wizard(pilot, app))
        assert rows[0][0] == "high-api-latency"
        assert not any(prompt.startswith("▶") for _, prompt in rows)


# -- streamed results, recorded before shown ---------------------------------------------
async def test_payment_failures_streams_its_results_recorded_before_shown(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []  # every progress line, in order
    recorded_first: dict[str, bool] = {}
    show_progress, on_result = DiagnosisScreen._show_progress, DiagnosisScreen._on_result

    def spy_progress(screen: DiagnosisScreen) -> None:
        show_progress(screen)
        shown.append(progress(screen))

    def spy_result(screen: DiagnosisScreen, result: CheckResult) -> None:
        journal = screen.diagnosis.journal
        assert journal is not None
        events = journal.events(screen.diagnosis.incident.id, kinds=["check.result"])
        recorded_first[result.id] = result.id in {e.data["result"]["id"] for e in events}
        on_result(screen, result)

    monkeypatch.setattr(DiagnosisScreen, "_show_progress", spy_progress)
    monkeypatch.setattr(DiagnosisScreen, "_on_result", spy_result)
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "payment-failures")
        assert text_of(screen, "#heading").startswith("Payment failures · incident ")
        assert text_of(screen, "#heading").endswith(" · recorded")
        final = await checks_done(pilot, screen)
        assert final.startswith("Checks 4/4 done: ")
        # one result at a time: 0/4, 1/4 ... 4/4, never two at once
        counts = [line.split()[1] for line in shown]
        assert counts[0] == "0/4" and shown[0] == "Checks 0/4 running"
        assert [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]] == [
            "0/4",
            "1/4",
            "2/4",
            "3/4",
            "4/4",
        ]
        assert recorded_first == dict.fromkeys(PAYMENT_CHECKS, True)

        rows = check_rows(screen)
        assert rows["provider-status"].startswith("FAIL    Payment provider status page")
        assert "partial_outage" in rows["provider-status"]
        assert rows["payment-success"].startswith("FAIL    Payment success rate")
        # the demo's payments log holds the provider's errors
        assert rows["payment-logs"].startswith(("FAIL", "WARN"))
        assert "Stripe API request failed" in rows["payment-logs"]
        assert not any(row.startswith(RUNNING) for row in rows.values())
        # the highlighted check (the first) explains itself, then the resolution
        shown_detail = detail(screen)
        assert "An incident at the provider" in shown_detail
        assert "Resolution" in shown_detail and "Verify Stripe API status" in shown_detail
        assert "Escalation: Payment Team (demo: #payment-team on chat); press e" in shown_detail

        stream = screen.diagnosis.incident.id
    events = journal_events(state, stream)
    assert kinds(events) == ["incident.opened", "checks.started"] + ["check.result"] * 4
    opened = events[0].data
    assert opened["symptom"] == "payment-failures"
    alerts = {a["metric"]: a for a in opened["alerts"]}
    assert alerts["payment_success_rate"]["state"] == "firing"
    assert alerts["payment_success_rate"]["severity"] == "critical"
    assert events[1].data == {"round": 1, "checks": PAYMENT_CHECKS}
    results = {e.data["result"]["id"]: e.data["result"] for e in events[2:]}
    assert set(results) == set(PAYMENT_CHECKS)
    assert results["provider-status"]["status"] == "fail"
    assert "partial_outage" in results["provider-status"]["summary"]
    assert {e.operator for e in events} == {OPERATOR.name}
    assert verify(journal_path(state)).ok


SLOW_SYMPTOM = (
    """
[symptom.slow-payments]
title = "Slow payments (test)"
description = "Three quick checks and one that takes two seconds."
alerts = ["payment_success_rate"]
escalation = "Payment Team"

[[symptom.slow-payments.check]]
id = "provider-status"
kind = "payment_status"
title = "Provider status"

[[symptom.slow-payments.check]]
id = "payment-success"
kind = "metric"
metric = "payment_success_rate"
title = "Payment success rate"

"""
    + command_check("quick", "Quick command", ["echo", "quick-ok"], "slow-payments")
    + command_check("slow", "Slow command", ["sh", "-c", "sleep 2; echo slow-ok"], "slow-payments")
    + """
[[symptom.slow-payments.resolution]]
title = "Wait"
steps = ["Wait for the slow check."]
"""
)


async def test_results_show_while_a_slow_check_still_runs(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_user_symptom("slow", SLOW_SYMPTOM)
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "slow-payments")
        await until(pilot, lambda: progress(screen).startswith("Checks 3/4 running"))
        rows = check_rows(screen)
        assert rows["slow"].startswith(f"{RUNNING:<7} Slow command")
        assert rows["quick"].startswith("PASS    Quick command  exit 0: quick-ok")
        assert rows["provider-status"].startswith("FAIL ")
        assert rows["payment-success"].startswith("FAIL ")
        # while it runs, the journal has the three results and not the fourth
        stream = screen.diagnosis.incident.id
        done = [e.data["result"]["id"] for e in journal_events(state, stream)[2:]]
        assert sorted(done) == ["payment-success", "provider-status", "quick"]
        # highlighted, the running check says so
        screen.query_one("#checks", OptionList).highlighted = 3
        await pilot.pause()
        assert "running…" in detail(screen)
        # a re-run is refused while the checks run: still one round
        await pilot.press("r")
        final = await checks_done(pilot, screen)
        assert final == "Checks 4/4 done: 2 FAIL, 2 PASS"  # worst first, whatever ended first
        assert check_rows(screen)["slow"].startswith("PASS    Slow command  exit 0: slow-ok")
        assert "slow-ok" in detail(screen)
    assert [
        e.data["round"] for e in journal_events(state, stream) if e.kind == "checks.started"
    ] == [1]


# -- escalation, notes, export ------------------------------------------------------------------
async def test_escalate_note_and_export_are_recorded(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "payment-failures")
        await checks_done(pilot, screen)
        stream = screen.diagnosis.incident.id

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EscalationScreen))
        escalation = app.screen
        assert text_of(escalation, "#team") == "Escalate to: Payment Team"
        assert "Contact: demo: #payment-team on chat" in [
            str(s.render()) for s in escalation.query(".line").results(Static)
        ]
        summary = escalation.query_one("#summary", TextArea).text
        assert "[demo] Payment failures: incident " in summary
        assert "Findings:\n  FAIL Payment provider status page (Stripe): major" in summary
        assert "  FAIL Payment success rate: Pay success " in summary
        assert "Escalation: Payment Team" in summary
        await pilot.press("m")
        await until(pilot, lambda: "escalated" in kinds(journal_events(state, stream)))
        assert app.screen is screen
        escalated = journal_events(state, stream)[-1]
        assert escalated.data["team"] == "Payment Team"
        assert escalated.data["contact"] == "demo: #payment-team on chat"
        assert escalated.data["summary"] == summary

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NoteInput))
        app.screen.query_one("#note", Input).value = "provider incident, told support"
        await pilot.press("enter")
        await until(pilot, lambda: "note" in kinds(journal_events(state, stream)))
        assert app.screen is screen
        assert journal_events(state, stream)[-1].data == {"text": "provider incident, told support"}
        # a note left empty, or cancelled, records nothing
        for leave in ("enter", "escape"):
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NoteInput))
            await pilot.press(leave)
            await until(pilot, lambda: app.screen is screen)
        await pilot.press("x")
        directory = state / "incidents"
        number = stream.rsplit("/", 1)[-1]
        markdown, as_json = directory / f"{number}.md", directory / f"{number}.json"
        await until(pilot, as_json.exists)
    events = journal_events(state, stream)
    assert kinds(events) == [
        "incident.opened",
        "checks.started",
        *["check.result"] * 4,
        "escalated",
        "note",
    ]
    exported = json.loads(as_json.read_text(encoding="utf-8"))
    assert exported["incident"] == stream
    assert [(e["seq"], e["kind"], e["hash"], e["data"]) for e in exported["events"]] == [
        (e.seq, e.kind, e.hash, e.data) for e in events
    ]
    assert {e["operator"] for e in exported["events"]} == {OPERATOR.name}
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# Incident: Payment failures\n")
    assert "note: provider incident, told support" in text
    assert "escalated to Payment Team (demo: #payment-team on chat)" in text


# -- actions --------------------------------------------------------------------------------------
def action_symptom(argv: list[str]) -> str:
    return (
        """
[symptom.restart-worker]
title = "Worker stuck (test)"
description = "A resolution with a command to run."
escalation = "Senior Engineer"

"""
        + command_check("probe", "Probe", ["echo", "probe-ok"], "restart-worker")
        + f"""
[[symptom.restart-worker.resolution]]
title = "Restart the worker"
steps = ["Restart it."]
command = {toml_list(argv)}
command_title = "Restart the worker"
"""
    )


async def test_an_action_runs_only_after_yes_and_its_output_streams(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_user_symptom("action", action_symptom(["sh", "-c", "echo done-$((6*7))"]))
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "restart-worker")
        await checks_done(pilot, screen)
        stream = screen.diagnosis.incident.id
        shown_detail = detail(screen)
        assert "Action, press a: $ sh -c 'echo done-$((6*7))'" in shown_detail

        for refuse in ("n", "escape"):
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmCommand))
            shown = text_of(app.screen, "#argv")
            assert shown == "$ sh -c 'echo done-$((6*7))'"
            await pilot.press(refuse)
            await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert not [k for k in kinds(journal_events(state, stream)) if k.startswith("action")]
        assert not screen.query_one("#output").display

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmCommand))
        assert app.screen.focused is not None and app.screen.focused.id == "no"  # default: no
        await pilot.press("y")
        await until(pilot, lambda: any("(recorded)" in line for line in output_lines(screen)))
        assert output_lines(screen) == [
            "$ sh -c 'echo done-$((6*7))'",
            "done-42",
            "-> exit 0: done-42 (recorded)",
        ]
        assert screen.query_one("#output").display
    events = journal_events(state, stream)
    assert kinds(events)[-2:] == ["action.confirmed", "action.result"]
    confirmed, result = events[-2].data, events[-1].data
    assert confirmed["argv"] == ["sh", "-c", "echo done-$((6*7))"]
    assert confirmed["dangerous"] is False
    assert result["exit_code"] == 0 and result["status"] == "pass"
    assert result["output"] == "done-42\n"


async def test_an_action_running_keeps_the_screen_until_its_result_is_recorded(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving (or starting another action) would cancel it: killed, its result unrecorded."""
    write_user_symptom("action", action_symptom(["sh", "-c", "sleep 1; echo finished"]))
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "restart-worker")
        await checks_done(pilot, screen)
        stream = screen.diagnosis.incident.id
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmCommand))
        await pilot.press("y")
        await until(pilot, lambda: "action.confirmed" in kinds(journal_events(state, stream)))
        for key in ("escape", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen
        assert [n.message for n in app._notifications].count(
            "An action is running: wait for its result."
        ) == 2
        await until(pilot, lambda: "action.result" in kinds(journal_events(state, stream)))
        assert journal_events(state, stream)[-1].data["output"] == "finished\n"
        await until(pilot, lambda: output_lines(screen)[-1].endswith("(recorded)"))
        await pilot.press("escape")
        await until(pilot, lambda: not screen.is_attached)


async def test_read_only_confirms_but_runs_nothing(
    backend: DemoBackend, state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "the-action-ran"
    write_user_symptom("action", action_symptom(["touch", str(marker)]))
    app = demo_app(backend, state, monkeypatch, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "restart-worker")
        await checks_done(pilot, screen)
        # commands are not executed in read-only mode, the command check neither
        assert check_rows(screen)["probe"].startswith("SKIPPED Probe  read-only mode")
        stream = screen.diagnosis.incident.id
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmCommand))
        await pilot.press("y")
        await until(pilot, lambda: any("(recorded)" in line for line in output_lines(screen)))
        assert output_lines(screen)[-1] == "-> read-only mode: nothing is executed (recorded)"
    events = journal_events(state, stream)
    assert kinds(events)[-2:] == ["action.confirmed", "action.result"]
    assert events[-1].data["status"] == "skipped"
    assert events[-1].data["exit_code"] is None
    assert not marker.exists()


# -- no journal -----------------------------------------------------------------------------------
async def test_the_wizard_works_when_the_journal_cannot_be_opened(
    backend: DemoBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "a-file"
    state.write_text("not a directory\n")
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "payment-failures")
        heading = text_of(screen, "#heading")
        assert heading.startswith("Payment failures · incident unrecorded-")
        assert heading.endswith("NOT RECORDED: the journal could not be opened")
        assert screen.query_one("#heading").has_class("-unrecorded")
        assert any(n.message.startswith("Not recorded: ") for n in app._notifications)
        assert (await checks_done(pilot, screen)).startswith("Checks 4/4 done: ")
        assert "partial_outage" in check_rows(screen)["provider-status"]
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NoteInput))
        await pilot.press(*"seen", "enter")
        await until(
            pilot,
            lambda: any(n.message == "Note kept (not recorded)." for n in app._notifications),
        )
        assert [e.kind for e in screen.diagnosis.incident.events][-1] == "note"
        # nowhere to export to either: said, and the console goes on
        await pilot.press("x")
        await until(
            pilot, lambda: any(n.message.startswith("Not exported: ") for n in app._notifications)
        )
        assert app.is_running and app.screen is screen
    assert state.read_text() == "not a directory\n"


async def test_leaving_while_checks_run_stops_them_and_the_console_goes_on(
    backend: DemoBackend, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_user_symptom("slow", SLOW_SYMPTOM)
    app = demo_app(backend, state, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await diagnose(pilot, app, "slow-payments")
        await until(pilot, lambda: progress(screen).startswith("Checks 3/4 running"))
        await pilot.press("escape")
        await until(pilot, lambda: not screen.is_attached, what="diagnosis screen closed")
        await pilot.pause(0.3)
        assert app.is_running
        assert isinstance(app.screen, DashboardScreen)
        stream = screen.diagnosis.incident.id
    # the slow check was cut, not recorded as a result
    results = [e for e in journal_events(state, stream) if e.kind == "check.result"]
    assert sorted(e.data["result"]["id"] for e in results) == [
        "payment-success",
        "provider-status",
        "quick",
    ]
