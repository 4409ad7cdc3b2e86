"""Settling an operation from the provider's answer: the one place intents change state.

``apply`` runs in the caller's transaction with the intent locked, does nothing when the
operation is no longer pending (the request and the sync may both try: the first wins), and
writes the status history and the events together with the state change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.events.publish import publish
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import OrderStatusHistory, PaymentIntent, PaymentOperation
from interlink.payments import repository
from interlink.providers.errors import ProviderDeclined, ProviderFailure, ProviderUnavailable
from interlink.providers.http import redact_value
from interlink.providers.payments import ProviderPayment, ProviderRefund

log = structlog.get_logger(__name__)
SYNC_BACKOFF_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    """What came back from the provider: a payment, a refund, or an error."""

    payment: ProviderPayment | None = None
    refund: ProviderRefund | None = None
    error: ProviderFailure | None = None

    @property
    def unknown(self) -> bool:
        return isinstance(self.error, ProviderUnavailable)


@dataclass(frozen=True)
class Actor:
    source: str  # api | sync | reconciliation
    actor: str | None
    correlation_id: str | None


def sync_backoff(attempts: int) -> timedelta:
    return min(SYNC_BACKOFF_CAP, timedelta(seconds=15 * 2 ** max(0, attempts - 1)))


def event_data(intent: PaymentIntent, op: PaymentOperation | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "object": {
            "id": intent.id,
            "object": "payment_intent",
            "order_id": intent.order_id,
            "status": intent.status,
            "amount": intent.amount,
            "currency": intent.currency,
            "amount_captured": intent.captured_amount,
            "amount_refunded": intent.refunded_amount,
            "integration_id": intent.integration_id,
            "connection_code": intent.connection_code,
            "provider_reference": intent.provider_reference,
        }
    }
    if op is not None:
        data["operation"] = {"id": op.id, "operation": op.operation, "amount": op.amount}
    return data


async def transition(
    session: AsyncSession, intent: PaymentIntent, to: str, reason: str, who: Actor
) -> None:
    if intent.status == to:
        return
    session.add(
        OrderStatusHistory(
            id=new_id("osh"),
            tenant_id=intent.tenant_id,
            order_id=intent.order_id,
            intent_id=intent.id,
            from_status=intent.status,
            to_status=to,
            reason=reason[:500],
            source=who.source,
            actor=who.actor,
            correlation_id=who.correlation_id,
            created_at=now(),
        )
    )
    log.info(
        "payment_status_changed",
        order_id=intent.order_id,
        intent_id=intent.id,
        correlation_id=who.correlation_id,
        from_status=intent.status,
        to_status=to,
        source=who.source,
    )
    intent.status = to
    intent.version += 1


async def emit(
    session: AsyncSession, intent: PaymentIntent, kind: str, op: PaymentOperation
) -> None:
    await publish(session, intent.tenant_id, f"payment.{kind}", event_data(intent, op))


def _raw(value: Any) -> dict[str, Any]:
    raw = dict(value) if value else {}
    redacted: dict[str, Any] = redact_value(raw)
    return redacted


def _succeed(op: PaymentOperation, reference: str | None, raw: Any) -> None:
    op.status = "succeeded"
    op.provider_reference = reference or op.provider_reference
    op.raw_response = _raw(raw)
    op.settled_at = now()
    op.next_check_at = None


def _fail(op: PaymentOperation, error: ProviderFailure | None, message: str | None = None) -> None:
    op.status = "failed"
    op.error_code = _error_code(error)
    op.error_message = (message or (error.message if error else "failed"))[:2000]
    op.settled_at = now()
    op.next_check_at = None


def _error_code(error: ProviderFailure | None) -> str:
    if isinstance(error, ProviderDeclined):
        return "card_declined"
    if error is None:
        return "provider_failed"
    return {
        "ProviderRejectedRequest": "provider_rejected",
        "ProviderConflict": "provider_conflict",
        "ProviderAuthFailed": "provider_auth_failed",
        "NotAvailableYet": "not_available",
    }.get(type(error).__name__, "provider_error")


def _still_pending(op: PaymentOperation) -> None:
    op.attempts += 1
    op.next_check_at = now() + sync_backoff(op.attempts)


async def apply(
    session: AsyncSession,
    tenant_id: str,
    intent_id: str,
    operation_id: str,
    outcome: Outcome,
    who: Actor,
    *,
    authorization_validity: timedelta,
) -> tuple[PaymentIntent, PaymentOperation]:
    intent = await repository.lock_intent(session, tenant_id, intent_id)
    op = await repository.lock_operation(session, operation_id)
    if intent is None or op is None or op.intent_id != intent.id:
        raise LookupError(f"operation {operation_id} of intent {intent_id} is gone")
    if op.status != "pending":
        return intent, op
    if outcome.unknown:
        _still_pending(op)
        log.warning(
            "payment_outcome_unknown",
            order_id=intent.order_id,
            intent_id=intent.id,
            operation_id=op.id,
            operation=op.operation,
            correlation_id=who.correlation_id,
        )
        return intent, op
    handler = {
        "authorize": _authorize,
        "capture": _capture,
        "void": _void,
        "refund": _refund,
    }[op.operation]
    await handler(session, intent, op, outcome, who, authorization_validity)
    intent.updated_at = now()
    return intent, op


async def _authorize(
    session: AsyncSession,
    intent: PaymentIntent,
    op: PaymentOperation,
    outcome: Outcome,
    who: Actor,
    validity: timedelta,
) -> None:
    payment = outcome.payment
    if payment is None:
        _fail(op, outcome.error)
        intent.failure_code = op.error_code
        intent.failure_message = op.error_message
        await transition(
            session, intent, "failed", f"authorization failed: {op.error_message}", who
        )
        await emit(session, intent, "failed", op)
        return
    intent.provider_reference = payment.reference
    op.provider_reference = payment.reference
    op.raw_response = _raw(payment.raw)
    if payment.status in ("authorized", "captured"):
        _succeed(op, payment.reference, payment.raw)
        intent.authorized_amount = intent.amount
        intent.next_action = None
        intent.authorization_expires_at = now() + validity
        await transition(session, intent, "authorized", "provider authorized the payment", who)
        await emit(session, intent, "authorized", op)
    elif payment.status == "requires_action":
        _still_pending(op)
        intent.next_action = dict(payment.next_action or {})
        await transition(session, intent, "requires_action", "customer action required", who)
    elif payment.status == "processing":
        _still_pending(op)
    else:
        message = payment.failure_message or f"the provider reports the payment {payment.status}"
        _fail(op, None, message)
        op.error_code = payment.failure_code or "payment_failed"
        intent.failure_code = op.error_code
        intent.failure_message = message
        intent.next_action = None
        await transition(session, intent, "failed", f"authorization failed: {message}", who)
        await emit(session, intent, "failed", op)


async def _capture(
    session: AsyncSession,
    intent: PaymentIntent,
    op: PaymentOperation,
    outcome: Outcome,
    who: Actor,
    validity: timedelta,
) -> None:
    if outcome.payment is None:
        _fail(op, outcome.error)
        return
    _succeed(op, outcome.payment.reference, outcome.payment.raw)
    intent.captured_amount += op.amount
    done = op.final or intent.captured_amount >= intent.authorized_amount
    await transition(
        session,
        intent,
        "captured" if done else "partially_captured",
        f"captured {op.amount} {intent.currency}",
        who,
    )
    await emit(session, intent, "captured", op)
    if done:
        await emit(session, intent, "completed", op)


async def _void(
    session: AsyncSession,
    intent: PaymentIntent,
    op: PaymentOperation,
    outcome: Outcome,
    who: Actor,
    validity: timedelta,
) -> None:
    if outcome.payment is None:
        _fail(op, outcome.error)
        return
    _succeed(op, outcome.payment.reference, outcome.payment.raw)
    await transition(session, intent, "voided", op.reason or "authorization released", who)
    await emit(session, intent, "voided", op)


async def _refund(
    session: AsyncSession,
    intent: PaymentIntent,
    op: PaymentOperation,
    outcome: Outcome,
    who: Actor,
    validity: timedelta,
) -> None:
    refund = outcome.refund
    if refund is None or refund.status == "failed":
        intent.refund_pending_amount -= op.amount
        if refund is not None:
            op.provider_reference = refund.reference
        _fail(op, outcome.error, None if refund is None else "the provider failed the refund")
        return
    op.provider_reference = refund.reference
    if refund.status == "pending":
        op.raw_response = _raw(refund.raw)
        _still_pending(op)
        return
    _succeed(op, refund.reference, refund.raw)
    intent.refund_pending_amount -= op.amount
    intent.refunded_amount += op.amount
    full = intent.refunded_amount >= intent.captured_amount
    await transition(
        session,
        intent,
        "refunded" if full else "partially_refunded",
        f"refunded {op.amount} {intent.currency}" + (f": {op.reason}" if op.reason else ""),
        who,
    )
    await emit(session, intent, "refunded", op)
