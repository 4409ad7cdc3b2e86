"""What the API shows of intents, their ledger and the order history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.models import OrderStatusHistory, PaymentIntent, PaymentOperation
from interlink.payments import repository
from interlink.payments.flow import environment_of, load_intent
from interlink.payments.schemas import (
    HistoryRead,
    OrderHistory,
    OrderPaymentRead,
    OrderPayments,
    PaymentRead,
    TransactionRead,
)


def transaction(op: PaymentOperation) -> TransactionRead:
    return TransactionRead(
        id=op.id,
        operation=op.operation,
        status=op.status,
        amount=op.amount,
        currency=op.currency,
        final=op.final,
        reason=op.reason,
        provider_reference=op.provider_reference,
        error_code=op.error_code,
        error_message=op.error_message,
        attempts=op.attempts,
        raw_response=op.raw_response,
        created=op.created_at,
        settled_at=op.settled_at,
    )


def capturable(intent: PaymentIntent) -> int:
    if intent.status not in ("authorized", "partially_captured"):
        return 0
    return intent.authorized_amount - intent.captured_amount


def refundable(intent: PaymentIntent) -> int:
    if intent.status not in ("captured", "partially_captured", "partially_refunded"):
        return 0
    return intent.captured_amount - intent.refunded_amount - intent.refund_pending_amount


def payment(intent: PaymentIntent, ops: Sequence[PaymentOperation]) -> PaymentRead:
    return PaymentRead(**_fields(intent, ops))


def _fields(intent: PaymentIntent, ops: Sequence[PaymentOperation]) -> dict[str, object]:
    return {
        "id": intent.id,
        "order_id": intent.order_id,
        "snapshot_id": intent.snapshot_id,
        "integration_id": intent.integration_id,
        "connection_code": intent.connection_code,
        "provider_reference": intent.provider_reference,
        "status": intent.status,
        "amount": intent.amount,
        "currency": intent.currency,
        "amount_authorized": intent.authorized_amount,
        "amount_captured": intent.captured_amount,
        "amount_refunded": intent.refunded_amount,
        "amount_refund_pending": intent.refund_pending_amount,
        "amount_capturable": capturable(intent),
        "amount_refundable": refundable(intent),
        "payment_method": intent.payment_method,
        "next_action": intent.next_action,
        "failure_code": intent.failure_code,
        "failure_message": intent.failure_message,
        "authorization_expires_at": intent.authorization_expires_at,
        "pending_operations": [transaction(op) for op in ops if op.status == "pending"],
        "metadata": intent.metadata_,
        "created": intent.created_at,
        "updated": intent.updated_at,
    }


async def get_payment(session: AsyncSession, principal: Principal, intent_id: str) -> PaymentRead:
    intent = await load_intent(session, principal, intent_id)
    return payment(intent, await repository.operations_of(session, [intent.id]))


async def fresh(session: AsyncSession, tenant_id: str, intent_id: str) -> PaymentRead:
    intent = await repository.get_intent(session, tenant_id, intent_id)
    assert intent is not None
    return payment(intent, await repository.operations_of(session, [intent.id]))


async def order_payments(
    session: AsyncSession, principal: Principal, order_id: str
) -> OrderPayments:
    environment = environment_of(principal)
    intents = [
        i
        for i in await repository.intents_of_order(session, principal.tenant_id, order_id)
        if i.environment == environment
    ]
    ops = await repository.operations_of(session, [i.id for i in intents])
    data = []
    for intent in intents:
        mine = [op for op in ops if op.intent_id == intent.id]
        data.append(
            OrderPaymentRead(**_fields(intent, mine), transactions=[transaction(o) for o in mine])
        )
    return OrderPayments(order_id=order_id, data=data)


def history_row(row: OrderStatusHistory) -> HistoryRead:
    return HistoryRead(
        id=row.id,
        order_id=row.order_id,
        intent_id=row.intent_id,
        from_status=row.from_status,
        to_status=row.to_status,
        reason=row.reason,
        source=row.source,
        actor=row.actor,
        correlation_id=row.correlation_id,
        created=row.created_at,
    )


async def order_history(session: AsyncSession, principal: Principal, order_id: str) -> OrderHistory:
    """The order's payment status changes, for the environment of the key (test or live)."""
    environment = environment_of(principal)
    intents = await repository.intents_of_order(session, principal.tenant_id, order_id)
    visible = {i.id for i in intents if i.environment == environment}
    rows = await repository.history_of_order(session, principal.tenant_id, order_id)
    return OrderHistory(
        order_id=order_id, data=[history_row(r) for r in rows if r.intent_id in visible]
    )
