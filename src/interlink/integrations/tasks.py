"""Periodic integration health checks, credential expiry warnings and log retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select

from interlink.errors import AppError
from interlink.integrations import catalog, health
from interlink.integrations.execute import load_row, run_test
from interlink.integrations.runtime import runtime_for
from interlink.jobs.registry import JobContext, job, schedule
from interlink.kit.clock import now
from interlink.models import Integration, IntegrationLog
from interlink.providers.base import ConnectionSpec

CHECK_CONCURRENCY = 8


@job("integrations.health_check", max_attempts=3, timeout=600)
async def health_check(ctx: JobContext) -> None:
    runtime = runtime_for(ctx.db, ctx.settings)
    async with ctx.db.read_session() as session:
        rows = (
            await session.scalars(
                select(Integration).where(Integration.status.in_(("active", "error")))
            )
        ).all()
        loaded = []
        for row in rows:
            found = await catalog.find(session, row.connection_code)
            if found is not None:
                loaded.append((row, found[0]))
    gate = asyncio.Semaphore(CHECK_CONCURRENCY)

    async def check(row: Integration, spec: ConnectionSpec) -> bool:
        async with gate:
            try:
                outcome = await run_test(runtime, load_row(runtime, row, spec))
            except AppError as exc:  # e.g. credentials that no configured key opens
                await health.record(
                    runtime, row.id, ok=False, message=exc.message, auth_failed=False
                )
                return False
            return outcome.ok

    results = await asyncio.gather(*(check(row, spec) for row, spec in loaded))
    warned = await health.warn_expiring(
        ctx.session, timedelta(days=ctx.settings.integration_expiry_warning_days)
    )
    ctx.log.info(
        "integrations_checked", checked=len(results), failing=results.count(False), warned=warned
    )


@job("integrations.prune_logs", max_attempts=3)
async def prune_logs(ctx: JobContext) -> None:
    cutoff = now() - timedelta(days=ctx.settings.integration_logs_retention_days)
    result = await ctx.session.execute(
        delete(IntegrationLog).where(IntegrationLog.created_at < cutoff)
    )
    ctx.log.info("integration_logs_pruned", removed=result.rowcount)  # type: ignore[attr-defined]


schedule("integrations.health_check", "*/5 * * * *", "integrations.health_check")
schedule("integrations.prune_logs", "41 3 * * *", "integrations.prune_logs")
