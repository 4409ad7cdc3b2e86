"""Authorize: bind a snapshot to a new intent, then ask the provider to hold the amount."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.errors import IdempotencyError
from interlink.integrations import repository as integrations
from interlink.integrations.runtime import ProviderRuntime
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import (
    CheckoutSnapshot,
    OrderStatusHistory,
    PaymentIntent,
    PaymentOperation,
)
from interlink.payments import access, flow, ledger, repository
from interlink.payments.exceptions import (
    ActivePaymentExists,
    AmountMismatch,
    CurrencyMismatch,
    OrderMismatch,
    SnapshotExpired,
    SnapshotNotFound,
    SnapshotUsed,
)
from interlink.payments.schemas import AuthorizeRequest
from interlink.providers import payments as contract


async def check_snapshot(
    session: AsyncSession, principal: Principal, body: AuthorizeRequest
) -> CheckoutSnapshot:
    snapshot = await repository.get_snapshot(session, principal.tenant_id, body.snapshot_id)
    if snapshot is None:
        raise SnapshotNotFound(f"No checkout snapshot {body.snapshot_id!r}.", param="snapshot_id")
    if snapshot.expires_at <= now():
        raise SnapshotExpired(
            f"Checkout snapshot {snapshot.id!r} expired at {snapshot.expires_at.isoformat()}; "
            "quote the checkout again (POST /v1/checkout/quote).",
            param="snapshot_id",
        )
    if snapshot.order_id is not None and snapshot.order_id != body.order_id:
        raise OrderMismatch(
            f"Checkout snapshot {snapshot.id!r} belongs to order {snapshot.order_id!r}.",
            param="order_id",
        )
    if body.currency != snapshot.currency:
        raise CurrencyMismatch(
            f"The snapshot is in {snapshot.currency}, the request in {body.currency}.",
            param="currency",
        )
    if body.amount != snapshot.total:
        raise AmountMismatch(
            f"The amount {body.amount} differs from the snapshot's total {snapshot.total}: the "
            "order changed since it was quoted. Quote it again.",
            param="amount",
        )
    if await repository.active_intent_of_snapshot(session, snapshot.id) is not None:
        raise SnapshotUsed(
            f"Checkout snapshot {snapshot.id!r} already pays for another payment.",
            param="snapshot_id",
        )
    return snapshot


async def _earlier(
    session: AsyncSession, principal: Principal, body: AuthorizeRequest, idempotency_key: str
) -> flow.Begun | None:
    """The authorization of this order already made under ``idempotency_key``. The key's
    idempotency record answers repeats, but it lapses (the first request died with its process
    and the lock ran out, or it expired) while the intent stays: a repeat then gets that
    intent as it stands, never a second authorization (nor a refusal because the order or the
    snapshot is now taken, by itself)."""
    found = (
        await session.execute(
            select(PaymentIntent, PaymentOperation)
            .join(PaymentOperation, PaymentOperation.intent_id == PaymentIntent.id)
            .where(
                PaymentIntent.tenant_id == principal.tenant_id,
                PaymentIntent.order_id == body.order_id,
                PaymentIntent.environment == flow.environment_of(principal),
                PaymentOperation.operation == "authorize",
                PaymentOperation.idempotency_key == idempotency_key,
            )
            .order_by(PaymentOperation.created_at.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    intent, op = found
    if intent.snapshot_id != body.snapshot_id:
        raise IdempotencyError(
            f"This Idempotency-Key already authorized order {body.order_id!r} for checkout "
            f"snapshot {intent.snapshot_id!r} (payment {intent.id!r}); use a new key for a new "
            "authorization.",
            param="Idempotency-Key",
        )
    integration = await integrations.get(session, intent.tenant_id, intent.integration_id)
    if integration is None:  # the FK forbids it
        return None
    return flow.Begun(intent, op, integration, replayed=True)


async def _begin(
    runtime: ProviderRuntime, principal: Principal, body: AuthorizeRequest, idempotency_key: str
) -> flow.Begun:
    entity = (body.entity_type, body.entity_id) if body.entity_type and body.entity_id else None
    async with runtime.db.session() as session:
        earlier = await _earlier(session, principal, body, idempotency_key)
        if earlier is not None:  # closing the session ends the transaction, objects stay loaded
            return earlier
        snapshot = await check_snapshot(session, principal, body)
        active = await repository.active_intent_of_order(
            session, principal.tenant_id, body.order_id
        )
        if active is not None:
            raise ActivePaymentExists(
                f"Order {body.order_id!r} already has the active payment {active.id!r} "
                f"({active.status}); void or finish it first.",
                param="order_id",
            )
        chosen = body.integration_id or (snapshot.providers.get("payments") or {}).get(
            "integration_id"
        )
        integration = await access.choose(session, principal, chosen, entity)
        access.bind(runtime, integration)  # credentials open and an adapter exists, before any row
        created = now()
        intent = PaymentIntent(
            id=new_id("pi"),
            tenant_id=principal.tenant_id,
            order_id=body.order_id,
            snapshot_id=snapshot.id,
            integration_id=integration.id,
            connection_code=integration.connection_code,
            environment=integration.environment,
            status="processing",
            amount=snapshot.total,
            currency=snapshot.currency,
            authorized_amount=0,
            captured_amount=0,
            refunded_amount=0,
            refund_pending_amount=0,
            payment_method=body.payment_method,
            customer=body.customer,
            metadata_=dict(body.metadata),
            version=1,
            created_at=created,
            updated_at=created,
        )
        op = PaymentOperation(
            id=new_id("pop"),
            tenant_id=principal.tenant_id,
            intent_id=intent.id,
            operation="authorize",
            status="pending",
            amount=snapshot.total,
            currency=snapshot.currency,
            final=True,
            idempotency_key=idempotency_key,
            attempts=0,
            correlation_id=flow.who(principal).correlation_id,
            actor=principal.key_id,
            created_at=created,
        )
        session.add(intent)
        try:
            await session.flush()
        except IntegrityError:  # a concurrent authorization of the order or snapshot won
            raise ActivePaymentExists(
                f"Order {body.order_id!r} or snapshot {body.snapshot_id!r} was just bound to "
                "another active payment.",
                param="order_id",
            ) from None
        session.add(op)
        session.add(
            OrderStatusHistory(
                id=new_id("osh"),
                tenant_id=principal.tenant_id,
                order_id=intent.order_id,
                intent_id=intent.id,
                from_status=None,
                to_status="processing",
                reason=f"authorization requested through {integration.connection_code}",
                source="api",
                actor=principal.key_id,
                correlation_id=op.correlation_id,
                created_at=created,
            )
        )
        await session.flush()
        await flow.queue_sync(
            session, op, timedelta(seconds=runtime.settings.payments_sync_delay_seconds)
        )
        await flow.commit_begun(session)
    return flow.Begun(intent, op, integration)


async def _call(bound: access.Bound, intent: PaymentIntent, op: PaymentOperation) -> ledger.Outcome:
    payment = await bound.provider.authorize(
        bound.ctx,
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


async def authorize(
    runtime: ProviderRuntime, principal: Principal, body: AuthorizeRequest, idempotency_key: str
) -> flow.Result:
    begun = await _begin(runtime, principal, body, idempotency_key)
    if begun.replayed:
        return flow.replay(begun, amount=None)
    intent, op = await flow.call_and_settle(
        runtime, begun.integration, begun.intent, begun.op, _call, flow.who(principal)
    )
    return flow.Result(intent, pending=op.status == "pending")
