"""The `payment_status` check: the payment provider's Atlassian Statuspage (v2).

The page's indicator names the status (none passes; minor and maintenance
warn; major and critical fail); components not operational, open incidents and
maintenances in progress are listed. A page that cannot be read says nothing of
the provider: that is an error, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lessay_console.checks.http_fetch import Documents, Finding, judge_documents
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param

INDICATOR_STATUS = {
    "none": CheckStatus.PASS,
    "minor": CheckStatus.WARN,
    "maintenance": CheckStatus.WARN,
    "major": CheckStatus.FAIL,
    "critical": CheckStatus.FAIL,
}
CLOSED_INCIDENT = {"resolved", "postmortem", "completed"}


async def payment_status(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    return await judge_documents(
        params.get("url"),
        ctx.config.payments,
        "no [payments] status_url in the configuration",
        _judge_status_page,
    )


async def _judge_status_page(documents: Documents, url: str) -> Outcome:
    # an unreachable or broken status page says nothing of the provider: error
    document, _ = await documents.get(url, "status page", CheckStatus.ERROR)
    page = read_status_page(document)
    status = INDICATOR_STATUS[page.indicator]
    detail = (*documents.detail, *page.lines())
    return Outcome(status, page.summary(), detail, {"url": url, **page.data()})


@dataclass(frozen=True)
class StatusPage:
    """The parts of an Atlassian Statuspage v2 answer a diagnosis needs."""

    indicator: str
    description: str
    components: tuple[tuple[str, str], ...]  # (name, status), those not operational
    incidents: tuple[Mapping[str, str], ...]  # open ones: name, status, impact, url
    maintenances: tuple[str, ...]  # names of maintenances in progress

    def summary(self) -> str:
        """ "major: Partial System Outage · API partial_outage · incident: Elevated ..." """
        parts = [f"{self.indicator}: {self.description}"]
        if self.components:
            parts.append(", ".join(f"{name} {status}" for name, status in self.components))
        if self.incidents:
            names = "; ".join(i["name"] for i in self.incidents)
            parts.append(("incidents: " if len(self.incidents) > 1 else "incident: ") + names)
        return " · ".join(parts)

    def lines(self) -> list[str]:
        lines = [f"indicator: {self.indicator} ({self.description})"]
        lines += [f"component {name}: {status}" for name, status in self.components]
        for i in self.incidents:
            link = f" ({i['url']})" if i["url"] else ""
            lines.append(f"incident {i['name']!r}: {i['status']}, impact {i['impact']}{link}")
        lines += [f"maintenance in progress: {name}" for name in self.maintenances]
        return lines

    def data(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "description": self.description,
            "components": [{"name": n, "status": s} for n, s in self.components],
            "incidents": [dict(i) for i in self.incidents],
            "maintenances": list(self.maintenances),
        }


def read_status_page(document: Mapping[str, Any]) -> StatusPage:
    """`summary.json`, or `status.json` (which has no components or incidents);
    a `Finding` (error) naming what is missing or wrong."""
    status = document.get("status")
    if not isinstance(status, dict) or "indicator" not in status:
        raise Finding(CheckStatus.ERROR, "the status page answer has no status.indicator")
    indicator = status["indicator"]
    if indicator not in INDICATOR_STATUS:
        known = ", ".join(INDICATOR_STATUS)
        raise Finding(CheckStatus.ERROR, f"status.indicator is {indicator!r}, not one of {known}")
    components = [
        (name, entry["status"])
        for name, entry in _named_entries(document, "components")
        if entry["status"] != "operational"
    ]
    incidents = [
        {
            "name": name,
            "status": entry["status"],
            "impact": str(entry.get("impact", "")),
            "url": str(entry.get("shortlink") or ""),
        }
        for name, entry in _named_entries(document, "incidents")
        if entry["status"] not in CLOSED_INCIDENT
    ]
    maintenances = [
        name
        for name, entry in _named_entries(document, "scheduled_maintenances")
        if entry["status"] == "in_progress"
    ]
    return StatusPage(
        indicator,
        str(status.get("description", "")),
        tuple(components),
        tuple(incidents),
        tuple(maintenances),
    )


def _named_entries(document: Mapping[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, entry) of each object in `document[key]`, each with a string name and status;
    an absent list is empty, a malformed one an error saying where."""
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise Finding(CheckStatus.ERROR, f"{key} is a {type(entries).__name__}, not a list")
    named = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise Finding(CheckStatus.ERROR, f"{key}[{index}] is not an object")
        for needed in ("name", "status"):
            if not isinstance(entry.get(needed), str):
                raise Finding(CheckStatus.ERROR, f"{key}[{index}] has no {needed}")
        named.append((entry["name"], entry))
    return named


PAYMENT_STATUS = CheckKind(
    name="payment_status",
    title="Payment provider status page",
    params=(Param("url", "url", help="Statuspage v2 summary.json; default: [payments]"),),
    timeout=10.0,
    run=payment_status,
)

KINDS: tuple[CheckKind, ...] = (PAYMENT_STATUS,)
