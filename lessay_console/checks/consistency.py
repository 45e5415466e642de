"""The `consistency` check: every `[[consistency]]` assertion of the configuration.

What a restored database must satisfy (row counts, the latest timestamps), run
as read-only SQL assertions one after the other, each reported on its own line:
the recovery runbook's "Verify data consistency".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome
from lessay_console.checks.sql_assert import check_sql_assert

BLOCKING = (CheckStatus.FAIL, CheckStatus.ERROR)


async def check_consistency(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    assertions = ctx.config.consistency
    if not assertions:
        return Outcome.skipped(
            "no [[consistency]] assertions in the configuration (name, sql, and at_least, "
            "at_most, equals or max_age)"
        )
    results = []
    for assertion in assertions:
        outcome = await check_sql_assert(
            ctx,
            {
                "sql": assertion.sql,
                "at_least": assertion.at_least,
                "at_most": assertion.at_most,
                "equals": assertion.equals,
                "max_age": assertion.max_age,
            },
        )
        results.append((assertion.name, outcome))
    detail = tuple(f"{o.status.value.upper()} {name}: {o.summary}" for name, o in results)
    data = {
        "assertions": [
            {"name": n, "status": o.status.value, "summary": o.summary} for n, o in results
        ]
    }
    failing = [(n, o) for n, o in results if o.status in BLOCKING]
    if failing:
        name, first = failing[0]
        more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
        status = (
            CheckStatus.FAIL
            if any(o.status is CheckStatus.FAIL for _, o in failing)
            else CheckStatus.ERROR
        )
        return Outcome(status, f"{name}: {first.summary}{more}", detail, data)
    return Outcome.passed(f"{len(results)} assertions hold", detail, **data)


CONSISTENCY = CheckKind(
    name="consistency",
    title="Data consistency assertions",
    params=(),
    timeout=60.0,
    run=check_consistency,
)
KINDS = (CONSISTENCY,)
