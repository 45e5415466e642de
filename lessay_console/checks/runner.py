"""Running checks: each cut at its timeout, none able to raise, results as they end."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

from lessay_console.checks.model import (
    CheckContext,
    CheckResult,
    CheckSpec,
    Outcome,
)
from lessay_console.redaction import redact
from lessay_console.sanitize import printable, printable_line, scrub

log = logging.getLogger(__name__)


async def run_check(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Run one check. Never raises (but for cancellation): a failure is an `error` result."""
    from lessay_console.checks.catalog import KINDS

    started, begun = ctx.clock(), time.monotonic()
    kind = KINDS.get(spec.kind)
    if kind is None:
        outcome = Outcome.errored(f"unknown check kind {spec.kind!r}")
    elif kind.executes and ctx.read_only:
        outcome = Outcome.skipped("read-only mode: nothing is executed")
    else:
        try:
            own = replace(ctx, check_id=spec.id, timeout=spec.timeout)
            async with asyncio.timeout(spec.timeout):
                outcome = await kind.run(own, spec.params)
        except TimeoutError:
            outcome = Outcome.errored(f"cut at its timeout ({spec.timeout:g}s): no result")
        except Exception as error:  # a bug in a check must not take the wizard down
            log.exception("check %s (%s) raised", spec.id, spec.kind)
            outcome = Outcome.errored(f"the check failed: {type(error).__name__}: {error}")
    return CheckResult(
        id=spec.id,
        kind=spec.kind,
        title=spec.title,
        status=outcome.status,
        summary=printable_line(redact(outcome.summary)),
        detail=tuple(printable(redact(line)) for line in outcome.detail),
        data=scrub(outcome.data),
        started=started,
        elapsed=time.monotonic() - begun,
    )


async def run_checks(specs: Iterable[CheckSpec], ctx: CheckContext) -> AsyncIterator[CheckResult]:
    """Run checks concurrently; yield each result as it ends. Cancelling stops them all."""
    tasks = [asyncio.create_task(run_check(spec, ctx)) for spec in specs]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
