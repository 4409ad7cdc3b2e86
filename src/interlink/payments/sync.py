"""Settling operations whose outcome is unknown, from the provider's own records.

For an operation on a known provider payment the sync first looks at the payment: if the effect
is there (the capture, the void, a refund carrying our operation id) it settles from it. Only
when the provider shows it has not happened is the call repeated, with the same idempotency key,
so a provider that did receive it answers with the first result instead of moving money again.
An authorization whose answer was lost has no provider reference yet: it is repeated with its
idempotency key, which returns the provider's first answer.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.integrations import repository as integrations
from interlink.integrations.runtime import ProviderRuntime, runtime_for
from interlink.jobs.registry import JobContext, Retry, job
from interlink.kit.clock import now
from interlink.models import Integration, Job, PaymentIntent, PaymentOperation
from interlink.observability import metrics
from interlink.payments import access, ledger, repository
from interlink.payments.flow import queue_sync
from interlink.providers import payments as contract
from interlink.providers.errors import ProviderFailure, ProviderUnavailable

SYNC_ACTOR = "job:payments.sync_operation"
# a pending operation this old whose sync job is dead (or pruned) is handed a new sync
STALLED_AFTER = timedelta(minutes=10)


async def _retrieve(bound: access.Bound, reference: str) -> contract.ProviderPayment:
    """The provider's record; failing to read it says nothing about the operation, so any error
    here leaves the operation pending."""
    try:
        return await bound.provider.retrieve(bound.ctx, reference)
    except ProviderFailure as exc:
        raise ProviderUnavailable(f"Could not read the provider's record: {exc.message}") from None


async def look_up(
    bound: access.Bound, intent: PaymentIntent, op: PaymentOperation
) -> ledger.Outcome:
    provider, ctx = bound.provider, bound.ctx
    reference = intent.provider_reference
    if op.operation == "authorize":
        if reference is not None:
            return ledger.Outcome(payment=await _retrieve(bound, reference))
        payment = await provider.authorize(
            ctx,
            contract.AuthorizeRequest(
                amount=intent.amount,
                currency=intent.currency,
                payment_method=intent.payment_method,
                idempotency_key=op.id,
                order_id=intent.order_id,
                intent_id=intent.id,
                customer=intent.customer,
            ),
        )
        return ledger.Outcome(payment=payment)
    assert reference is not None
    payment = await _retrieve(bound, reference)
    if op.operation == "capture":
        if payment.amount_captured >= intent.captured_amount + op.amount:
            return ledger.Outcome(payment=payment)
        if payment.status != "authorized":
            return ledger.Outcome(payment=None, error=_refused(payment, "capture"))
        return ledger.Outcome(
            payment=await provider.capture(
                ctx, reference, op.amount, final=op.final, idempotency_key=op.id
            )
        )
    if op.operation == "void":
        if payment.status == "canceled":
            return ledger.Outcome(payment=payment)
        if payment.status != "authorized":
            return ledger.Outcome(payment=None, error=_refused(payment, "void"))
        return ledger.Outcome(payment=await provider.void(ctx, reference, idempotency_key=op.id))
    for found in payment.refunds:
        if found.operation_id == op.id or (
            op.provider_reference is not None and found.reference == op.provider_reference
        ):
            return ledger.Outcome(refund=found)
    return ledger.Outcome(
        refund=await provider.refund(
            ctx, reference, op.amount, reason=op.reason, idempotency_key=op.id
        )
    )


def _refused(payment: contract.ProviderPayment, operation: str) -> ProviderFailure:
    from interlink.providers.errors import ProviderConflict

    return ProviderConflict(
        f"The provider shows the payment {payment.status} without this {operation}; "
        "it did not happen."
    )


async def settle(
    runtime: ProviderRuntime,
    integration: Integration,
    intent: PaymentIntent,
    op: PaymentOperation,
) -> ledger.Outcome:
    bound = access.bind(runtime, integration)
    try:
        return await look_up(bound, intent, op)
    except ProviderFailure as exc:
        return ledger.Outcome(error=exc)
    finally:
        await bound.flush_audit(runtime)


@job("payments.sync_operation", max_attempts=10, timeout=120)
async def sync_operation(
    ctx: JobContext, tenant_id: str, intent_id: str, operation_id: str
) -> Retry | None:
    runtime = runtime_for(ctx.db, ctx.settings)
    async with ctx.db.read_session() as session:
        op = await repository.get_operation(session, operation_id)
        intent = await repository.get_intent(session, tenant_id, intent_id)
        integration = (
            await integrations.get(session, tenant_id, intent.integration_id) if intent else None
        )
    if op is None or intent is None or integration is None or op.status != "pending":
        return None
    outcome = await settle(runtime, integration, intent, op)
    provider = access.bind(runtime, integration).provider
    _intent, settled = await ledger.apply(
        ctx.session,
        tenant_id,
        intent_id,
        operation_id,
        outcome,
        ledger.Actor(source="sync", actor=SYNC_ACTOR, correlation_id=op.correlation_id),
        authorization_validity=provider.authorization_validity,
    )
    metrics.PAYMENT_OPERATIONS.labels(intent.connection_code, op.operation, settled.status).inc()
    if settled.status == "pending":
        ctx.log.info(
            "payment_operation_still_pending", operation_id=op.id, attempts=settled.attempts
        )
        return Retry(after=ledger.sync_backoff(settled.attempts), reason="outcome still unknown")
    return None


async def revive_stalled(session: AsyncSession) -> int:
    """Give every pending operation whose sync can no longer run a sync again: a sync job that
    died (its attempts spent on errors rather than on an unknown outcome, which never spends
    them) is queued again with fresh attempts, and one that was pruned is queued anew. Called by
    the hourly reconciliation, so an operation never stays pending for want of a job. Returns
    how many were revived."""
    at = now()
    pending = (
        await session.scalars(
            select(PaymentOperation).where(
                PaymentOperation.status == "pending",
                PaymentOperation.created_at <= at - STALLED_AFTER,
            )
        )
    ).all()
    if not pending:
        return 0
    keys = {f"paysync:{op.id}": op for op in pending}
    jobs = {
        key: state
        for key, state in (
            await session.execute(
                select(Job.dedupe_key, Job.state).where(Job.dedupe_key.in_(sorted(keys)))
            )
        ).all()
        if key is not None
    }
    revived = 0
    for key, op in keys.items():
        state = jobs.get(key)
        if state is None:
            await queue_sync(session, op, timedelta(0))
        elif state == "dead":
            await session.execute(
                update(Job)
                .where(Job.dedupe_key == key, Job.state == "dead")
                .values(state="queued", attempts=0, run_at=at, finished_at=None, updated_at=at)
                .execution_options(synchronize_session=False)
            )
        else:
            continue  # queued or running: the sync is on its way
        revived += 1
    return revived
