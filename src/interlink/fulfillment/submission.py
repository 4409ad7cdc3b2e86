"""Submitting an order to its lab, following its status, cancelling it: the bodies of the
fulfillment jobs. Provider calls happen with no transaction open; the outcome is written in the
job's own transaction (so it commits together with the job being done)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update

from interlink.fulfillment import images, repository, transitions
from interlink.fulfillment.labs import USABLE, Lab, open_lab
from interlink.integrations import health
from interlink.integrations.runtime import ProviderRuntime, runtime_for
from interlink.jobs.enqueue import enqueue
from interlink.jobs.registry import JobContext, Retry
from interlink.kit.clock import now
from interlink.models import FulfillmentOrder
from interlink.observability import metrics
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderFailure,
    ProviderUnavailable,
)
from interlink.providers.labs import LabDraftInvalid, LabRejected, LabStatus, LabSubmission

log = structlog.get_logger(__name__)

SUBMIT_JOB = "fulfillment.submit"
POLL_JOB = "fulfillment.poll"
CANCEL_JOB = "fulfillment.cancel"


async def queue_submission(session: Any, order: FulfillmentOrder) -> None:
    await enqueue(
        session,
        SUBMIT_JOB,
        key=f"{SUBMIT_JOB}:{order.id}:{order.submissions}",
        fulfillment_order_id=order.id,
    )


async def _open(
    runtime: ProviderRuntime, fulfillment_order_id: str
) -> tuple[FulfillmentOrder, Lab] | None:
    async with runtime.db.read_session() as read:
        order = await repository.get_for_job(read, fulfillment_order_id)
        if order is None:
            return None
        row = await repository.integration(read, order.tenant_id, order.integration_id)
        if row is None:
            return None
        lab = await open_lab(runtime, read, row)
    return order, lab


async def _save_draft(
    runtime: ProviderRuntime, order_id: str, draft: dict[str, Any] | None
) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            update(FulfillmentOrder)
            .where(FulfillmentOrder.id == order_id, FulfillmentOrder.status == "pending")
            .values(draft=draft, updated_at=now())
        )
        await session.commit()


async def _place(runtime: ProviderRuntime, order: FulfillmentOrder, lab: Lab) -> LabSubmission:
    lab_order = await images.build(runtime, lab.sink, order)
    draft = order.draft
    if draft is None:
        draft = await lab.provider.prepare(lab.ctx, lab_order)
        # kept before placing the order: a retry then re-places from the same draft, and the
        # lab's "already submitted" answer tells it that the order is in
        await _save_draft(runtime, order.id, draft)
    try:
        return await lab.provider.submit(lab.ctx, lab_order, draft)
    except LabDraftInvalid as exc:
        await _save_draft(runtime, order.id, None)
        raise ProviderUnavailable(
            f"{exc.message} Preparing the order again.", retry_after=1
        ) from None


async def submit(ctx: JobContext, fulfillment_order_id: str) -> Retry | None:
    runtime = runtime_for(ctx.db, ctx.settings)
    opened = await _open(runtime, fulfillment_order_id)
    if opened is None or opened[0].status != "pending":
        return None
    order, lab = opened
    problem: tuple[str, str | None, bool] | None = None
    submission: LabSubmission | None = None
    if lab.row.status not in USABLE:
        problem = (f"The lab integration is {lab.row.status}.", "integration_not_usable", False)
    else:
        try:
            submission = await _place(runtime, order, lab)
        except images.OrderProblem as exc:
            problem = (exc.message, exc.code, True)
        except LabRejected as exc:
            problem = (exc.message, exc.code or "lab_rejected", True)
        except ProviderAuthFailed as exc:
            await lab.flush_audit(ctx.db)
            await health.record(
                runtime, lab.row.id, ok=False, message=exc.message, auth_failed=True
            )
            problem = (exc.message, "lab_auth_failed", False)
        except ProviderUnavailable as exc:
            await lab.flush_audit(ctx.db)
            if ctx.attempt < ctx.max_attempts:
                log.info("fulfillment_submit_retry", order=order.id, error=exc.message)
                raise
            problem = (
                f"Gave up after {ctx.attempt} attempts: {exc.message} Resubmit when the lab is "
                "reachable.",
                "lab_unavailable",
                False,
            )
        except ProviderConflict as exc:
            problem = (exc.message, "lab_conflict", False)
        except ProviderFailure as exc:
            problem = (exc.message, "lab_error", False)
    await lab.flush_audit(ctx.db)
    current = await repository.get_for_job(ctx.session, fulfillment_order_id, lock=True)
    if current is None:
        return None
    if current.status == "cancelled" and submission is not None:
        # cancelled while the lab was taking it: the lab has the order, so ask it to cancel
        await _cancel_placed(ctx, current, submission)
        return None
    if current.status != "pending":
        return None
    if problem is not None:
        message, code, rejected = problem
        metrics.FULFILLMENT_SUBMISSIONS.labels(lab.spec.code, "needs_attention").inc()
        await transitions.needs_attention(ctx.session, current, message, code, rejected=rejected)
        return None
    assert submission is not None
    await _mark_submitted(ctx, current, submission, lab)
    return None


async def _mark_submitted(
    ctx: JobContext, order: FulfillmentOrder, submission: LabSubmission, lab: Lab
) -> None:
    metrics.FULFILLMENT_SUBMISSIONS.labels(lab.spec.code, "submitted").inc()
    order.lab_order_id = submission.lab_order_id
    order.totals = {k: v for k, v in submission.totals.items() if v is not None}
    order.submitted_at = now()
    order.error_code = None
    order.last_error = None
    await transitions.set_status(
        ctx.session,
        order,
        "submitted",
        f"Submitted to {lab.spec.display_name} as {submission.lab_order_id}.",
        {"lab_order_id": submission.lab_order_id, **dict(submission.details)},
    )
    await transitions.announce(ctx.session, order, "fulfillment.submitted")
    if submission.state == "accepted":
        await transitions.apply_lab_status(ctx.session, order, _accepted(), source="submission")
    interval = lab.provider.poll_interval(lab.ctx)
    if interval is not None:
        await enqueue(
            ctx.session,
            POLL_JOB,
            key=f"{POLL_JOB}:{order.id}:{order.submissions}",
            delay=timedelta(seconds=interval),
            fulfillment_order_id=order.id,
        )


def _accepted() -> LabStatus:
    return LabStatus("accepted", "Accepted by the lab.")


async def _cancel_placed(
    ctx: JobContext, order: FulfillmentOrder, submission: LabSubmission
) -> None:
    order.lab_order_id = submission.lab_order_id
    await transitions.set_status(
        ctx.session,
        order,
        "cancelling",
        f"Cancelled while the lab was taking it as {submission.lab_order_id}; asking the lab "
        "to cancel.",
    )
    await enqueue(
        ctx.session,
        CANCEL_JOB,
        key=f"{CANCEL_JOB}:{order.id}:{order.submissions}",
        fulfillment_order_id=order.id,
        previous="submitted",
    )


async def poll(ctx: JobContext, fulfillment_order_id: str) -> Retry | None:
    runtime = runtime_for(ctx.db, ctx.settings)
    opened = await _open(runtime, fulfillment_order_id)
    if opened is None:
        return None
    order, lab = opened
    if order.status not in transitions.IN_FLIGHT or order.lab_order_id is None:
        return None
    interval = lab.provider.poll_interval(lab.ctx)
    if interval is None:
        return None
    again = Retry(after=timedelta(seconds=interval), reason="order still in progress")
    try:
        status = await lab.provider.status(lab.ctx, order.lab_order_id)
    except ProviderFailure as exc:
        await lab.flush_audit(ctx.db)
        log.info("fulfillment_poll_failed", order=order.id, error=exc.message)
        return again
    await lab.flush_audit(ctx.db)
    current = await repository.get_for_job(ctx.session, fulfillment_order_id, lock=True)
    if current is None or status is None:
        return None
    await transitions.apply_lab_status(ctx.session, current, status, source="poll")
    return again if current.status in transitions.IN_FLIGHT else None


async def cancel(ctx: JobContext, fulfillment_order_id: str, previous: str) -> Retry | None:
    runtime = runtime_for(ctx.db, ctx.settings)
    opened = await _open(runtime, fulfillment_order_id)
    if opened is None or opened[0].status != "cancelling" or opened[0].lab_order_id is None:
        return None
    order, lab = opened
    refused: str | None = None
    try:
        status = await lab.provider.cancel(lab.ctx, str(order.lab_order_id))
    except ProviderConflict as exc:
        refused = exc.message
    except ProviderUnavailable:
        await lab.flush_audit(ctx.db)
        raise
    except ProviderFailure as exc:
        refused = exc.message
    await lab.flush_audit(ctx.db)
    current = await repository.get_for_job(ctx.session, fulfillment_order_id, lock=True)
    if current is None or current.status != "cancelling":
        return None
    if refused is not None:
        current.last_error = f"The lab refused the cancellation: {refused}"
        await transitions.set_status(ctx.session, current, previous, current.last_error)
        return None
    await transitions.set_status(ctx.session, current, "cancelled", status.message)
    return None
