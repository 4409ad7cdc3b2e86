from __future__ import annotations

from interlink.idempotency.service import prune_expired
from interlink.jobs.registry import JobContext, job, schedule


@job("idempotency.prune", max_attempts=3)
async def prune_expired_keys(ctx: JobContext) -> None:
    removed = await prune_expired(ctx.session)
    ctx.log.info("idempotency_keys_pruned", removed=removed)


schedule("idempotency.prune", "*/30 * * * *", "idempotency.prune")
