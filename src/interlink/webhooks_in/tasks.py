"""The processing job. Handler modules are imported here so that every process that runs jobs
has the whole handler registry."""

from __future__ import annotations

from datetime import timedelta

from interlink.jobs.registry import JobContext, Retry, job, schedule
from interlink.kit.clock import now
from interlink.webhooks_in import fulfillment_handlers, payment_handlers, processing, repository
from interlink.webhooks_in.service import PROCESS_JOB

HANDLER_MODULES = (payment_handlers, fulfillment_handlers)


# handler failures are retried by the event's own attempt count (returned as Retry); the job's
# attempts only count failures of the job machinery itself
@job(PROCESS_JOB, max_attempts=20, timeout=60.0, priority=50)
async def process_inbound_event(ctx: JobContext, event_id: str) -> Retry | None:
    return await processing.process(ctx.session, ctx.settings, event_id)


@job("inbound.prune", max_attempts=3, timeout=300.0, priority=200)
async def prune_inbound_events(ctx: JobContext) -> None:
    cutoff = now() - timedelta(days=ctx.settings.inbound_retention_days)
    deleted = await repository.prune_settled(ctx.session, cutoff)
    if deleted:
        ctx.log.info("inbound_events_pruned", count=deleted)


schedule("inbound.prune", "17 3 * * *", "inbound.prune")
