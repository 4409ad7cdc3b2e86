"""Void: release an authorization of which nothing was captured."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.integrations.runtime import ProviderRuntime
from interlink.models import PaymentIntent, PaymentOperation
from interlink.payments import access, flow, ledger
from interlink.payments.capture import ensure_nothing_in_flight, new_operation
from interlink.payments.exceptions import InvalidTransition
from interlink.payments.schemas import VoidRequest


async def void(
    runtime: ProviderRuntime,
    principal: Principal,
    intent_id: str,
    body: VoidRequest,
    idempotency_key: str,
) -> flow.Result:
    async def prepare(session: AsyncSession, intent: PaymentIntent) -> PaymentOperation:
        if intent.status != "authorized" or intent.captured_amount:
            raise InvalidTransition(
                f"Payment {intent.id!r} is {intent.status}; only an authorized payment with "
                "nothing captured can be voided (refund a captured one).",
                param="id",
                code="payment_not_voidable",
            )
        await ensure_nothing_in_flight(session, intent)
        op = new_operation(intent, principal, "void", intent.authorized_amount, idempotency_key)
        op.reason = body.reason
        return op

    begun = await flow.begin(
        runtime, principal, intent_id, prepare, operation="void", idempotency_key=idempotency_key
    )
    if begun.replayed:
        return flow.replay(begun, amount=None)

    async def call(
        bound: access.Bound, intent: PaymentIntent, op: PaymentOperation
    ) -> ledger.Outcome:
        assert intent.provider_reference is not None
        payment = await bound.provider.void(
            bound.ctx, intent.provider_reference, idempotency_key=op.id
        )
        return ledger.Outcome(payment=payment)

    intent, op = await flow.call_and_settle(
        runtime, begun.integration, begun.intent, begun.op, call, flow.who(principal)
    )
    return flow.Result(intent, pending=op.status == "pending")
