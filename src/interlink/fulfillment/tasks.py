"""Jobs of the fulfillment domain."""

from __future__ import annotations

from interlink.events.subscribers import subscribe
from interlink.fulfillment import automatic, callbacks, submission
from interlink.jobs.registry import JobContext, Retry, job


@subscribe(*automatic.TRIGGERS)
@job("fulfillment.order_event", max_attempts=10, priority=40)
async def order_event(ctx: JobContext, event_id: str) -> None:
    outcome = await automatic.from_event(ctx.session, event_id)
    ctx.log.info("fulfillment_order_event", event_id=event_id, outcome=outcome)


@job(submission.SUBMIT_JOB, max_attempts=8, priority=40, timeout=600)
async def submit(ctx: JobContext, fulfillment_order_id: str) -> Retry | None:
    return await submission.submit(ctx, fulfillment_order_id)


@job(submission.POLL_JOB, max_attempts=20, priority=80)
async def poll(ctx: JobContext, fulfillment_order_id: str) -> Retry | None:
    return await submission.poll(ctx, fulfillment_order_id)


@job(submission.CANCEL_JOB, max_attempts=8, priority=40)
async def cancel(ctx: JobContext, fulfillment_order_id: str, previous: str) -> Retry | None:
    return await submission.cancel(ctx, fulfillment_order_id, previous)


@job(callbacks.VERIFY_JOB, max_attempts=8, priority=30)
async def verify_callback(ctx: JobContext, integration_id: str, verifier: str) -> None:
    await callbacks.confirm(ctx, integration_id, verifier)
