"""The queue's own upkeep."""

from __future__ import annotations

from datetime import timedelta

from interlink.jobs import queue
from interlink.jobs.registry import JobContext, job, schedule
from interlink.kit.clock import now


@job("jobs.prune", max_attempts=3)
async def prune_finished_jobs(ctx: JobContext) -> None:
    cutoff = now() - timedelta(days=ctx.settings.jobs_retention_days)
    removed = await queue.prune_finished(ctx.session, cutoff)
    ctx.log.info("jobs_pruned", removed=removed)


schedule("jobs.prune", "17 * * * *", "jobs.prune")
