"""Refund: partial and repeated. A pending refund reserves its amount, so the sum of pending
and succeeded refunds never passes what was captured, however many requests race."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.integrations.runtime import ProviderRuntime
from interlink.models import PaymentIntent, PaymentOperation
from interlink.payments import access, flow, ledger
from interlink.payments.capture import new_operation
from interlink.payments.exceptions import AmountExceedsRemaining, InvalidTransition
from interlink.payments.schemas import RefundRequest

REFUNDABLE = ("captured", "partially_captured", "partially_refunded")


async def refund(
    runtime: ProviderRuntime,
    principal: Principal,
    intent_id: str,
    body: RefundRequest,
    idempotency_key: str,
) -> flow.Result:
    async def prepare(session: AsyncSession, intent: PaymentIntent) -> PaymentOperation:
        if intent.status not in REFUNDABLE:
            raise InvalidTransition(
                f"Payment {intent.id!r} is {intent.status}; only a captured payment can be "
                "refunded (void an authorized one).",
                param="id",
                code="payment_not_refundable",
            )
        left = intent.captured_amount - intent.refunded_amount - intent.refund_pending_amount
        amount = body.amount if body.amount is not None else left
        if amount <= 0 or amount > left:
            raise AmountExceedsRemaining(
                f"Only {left} {intent.currency} is left to refund "
                f"({intent.refund_pending_amount} is reserved by pending refunds).",
                param="amount",
            )
        intent.refund_pending_amount += amount
        op = new_operation(intent, principal, "refund", amount, idempotency_key)
        op.reason = body.reason
        return op

    begun = await flow.begin(
        runtime, principal, intent_id, prepare, operation="refund", idempotency_key=idempotency_key
    )
    if begun.replayed:
        return flow.replay(begun, amount=body.amount)

    async def call(
        bound: access.Bound, intent: PaymentIntent, op: PaymentOperation
    ) -> ledger.Outcome:
        assert intent.provider_reference is not None
        result = await bound.provider.refund(
            bound.ctx,
            intent.provider_reference,
            op.amount,
            reason=op.reason,
            idempotency_key=op.id,
        )
        return ledger.Outcome(refund=result)

    intent, op = await flow.call_and_settle(
        runtime, begun.integration, begun.intent, begun.op, call, flow.who(principal)
    )
    return flow.Result(intent, pending=op.status == "pending")
