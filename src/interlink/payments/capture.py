"""Capture: all or part of an authorization; final by default (the rest is released)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.integrations.runtime import ProviderRuntime
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import PaymentIntent, PaymentOperation
from interlink.payments import access, flow, ledger
from interlink.payments.exceptions import (
    AmountExceedsRemaining,
    InvalidTransition,
    OperationInProgress,
    UnsupportedByProvider,
)
from interlink.payments.schemas import CaptureRequest
from interlink.providers.payment_registry import payment_provider

CAPTURABLE = ("authorized", "partially_captured")


async def ensure_nothing_in_flight(session: AsyncSession, intent: PaymentIntent) -> None:
    pending = await session.scalar(
        select(PaymentOperation).where(
            PaymentOperation.intent_id == intent.id,
            PaymentOperation.status == "pending",
            PaymentOperation.operation != "refund",
        )
    )
    if pending is not None:
        raise OperationInProgress(
            f"Payment {intent.id!r} has a {pending.operation} in progress ({pending.id}); "
            "retry once it settles.",
            param="id",
        )


def new_operation(
    intent: PaymentIntent, principal: Principal, operation: str, amount: int, key: str
) -> PaymentOperation:
    return PaymentOperation(
        id=new_id("pop"),
        tenant_id=intent.tenant_id,
        intent_id=intent.id,
        operation=operation,
        status="pending",
        amount=amount,
        currency=intent.currency,
        final=True,
        idempotency_key=key,
        attempts=0,
        correlation_id=flow.who(principal).correlation_id,
        actor=principal.key_id,
        created_at=now(),
    )


async def capture(
    runtime: ProviderRuntime,
    principal: Principal,
    intent_id: str,
    body: CaptureRequest,
    idempotency_key: str,
) -> flow.Result:
    async def prepare(session: AsyncSession, intent: PaymentIntent) -> PaymentOperation:
        if intent.status not in CAPTURABLE:
            raise InvalidTransition(
                f"Payment {intent.id!r} is {intent.status}; only an authorized payment can be "
                "captured.",
                param="id",
                code="payment_not_capturable",
            )
        await ensure_nothing_in_flight(session, intent)
        remaining = intent.authorized_amount - intent.captured_amount
        amount = body.amount if body.amount is not None else remaining
        if amount > remaining:
            raise AmountExceedsRemaining(
                f"Only {remaining} {intent.currency} is left to capture.", param="amount"
            )
        provider = payment_provider(intent.connection_code)
        if not body.final and provider is not None and not provider.multiple_captures:
            raise UnsupportedByProvider(
                f"{intent.connection_code} captures an authorization once; send final true.",
                param="final",
            )
        op = new_operation(intent, principal, "capture", amount, idempotency_key)
        op.final = body.final
        return op

    begun = await flow.begin(
        runtime, principal, intent_id, prepare, operation="capture", idempotency_key=idempotency_key
    )
    if begun.replayed:
        return flow.replay(begun, amount=body.amount, final=body.final)

    async def call(
        bound: access.Bound, intent: PaymentIntent, op: PaymentOperation
    ) -> ledger.Outcome:
        assert intent.provider_reference is not None
        payment = await bound.provider.capture(
            bound.ctx, intent.provider_reference, op.amount, final=op.final, idempotency_key=op.id
        )
        return ledger.Outcome(payment=payment)

    intent, op = await flow.call_and_settle(
        runtime, begun.integration, begun.intent, begun.op, call, flow.who(principal)
    )
    return flow.Result(intent, pending=op.status == "pending")
