"""The shape every money movement follows (invariant 4 of the product):

1. ``begin``: in its own short transaction, lock the intent, check the rules, write the pending
   operation row (reserving a refund's amount), queue its sync job, and COMMIT. This is the one
   place the payments services commit by themselves: the row and its sync job must be durable
   before the provider hears of it, or a crash after the call would lose a money movement.
2. ``call``: ask the provider with no transaction open, the operation id as idempotency key.
3. ``settle``: in a second short transaction, lock the intent and apply the answer. It commits on
   its own too, because the request's unit of work is rolled back on an error response and a
   decline must stay recorded. An unknown answer leaves the row pending for the sync job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.errors import AppError, Conflict, IdempotencyError
from interlink.integrations import repository as integrations
from interlink.integrations.execute import to_app_error
from interlink.integrations.runtime import ProviderRuntime
from interlink.jobs.enqueue import enqueue
from interlink.models import Integration, PaymentIntent, PaymentOperation
from interlink.observability import metrics
from interlink.observability.context import current_request_id
from interlink.payments import access, ledger, repository
from interlink.payments.exceptions import OperationFailed, PaymentDeclined, PaymentNotFound
from interlink.providers.errors import ProviderDeclined, ProviderFailure

log = structlog.get_logger(__name__)
SYNC_JOB = "payments.sync_operation"

Prepare = Callable[[AsyncSession, PaymentIntent], Awaitable[PaymentOperation]]
Call = Callable[[access.Bound, PaymentIntent, PaymentOperation], Awaitable[ledger.Outcome]]


def who(principal: Principal) -> ledger.Actor:
    return ledger.Actor(source="api", actor=principal.key_id, correlation_id=current_request_id())


def environment_of(principal: Principal) -> str:
    return "production" if principal.is_live else "sandbox"


async def load_intent(session: AsyncSession, principal: Principal, intent_id: str) -> PaymentIntent:
    intent = await repository.get_intent(session, principal.tenant_id, intent_id)
    if intent is None or intent.environment != environment_of(principal):
        raise PaymentNotFound(f"No payment {intent_id!r}.", param="id")
    return intent


async def queue_sync(session: AsyncSession, op: PaymentOperation, delay: timedelta) -> None:
    await enqueue(
        session,
        SYNC_JOB,
        key=f"paysync:{op.id}",
        delay=delay,
        tenant_id=op.tenant_id,
        intent_id=op.intent_id,
        operation_id=op.id,
    )


async def commit_begun(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "Another operation changed this payment at the same time; fetch it and retry.",
            code="state_conflict",
        ) from None


@dataclass(frozen=True)
class Begun:
    intent: PaymentIntent
    op: PaymentOperation
    integration: Integration
    replayed: bool = False


async def begin(
    runtime: ProviderRuntime,
    principal: Principal,
    intent_id: str,
    prepare: Prepare,
    *,
    operation: str,
    idempotency_key: str,
) -> Begun:
    """The new pending operation or, when this intent already has an ``operation`` made under
    ``idempotency_key``, that one, ``replayed``: the key's idempotency record answers repeats,
    but it lapses (its first request died with its process and the lock ran out, or it
    expired) while the operation stays, and a repeat must not make a second one."""
    async with runtime.db.session() as session:
        intent = await repository.lock_intent(session, principal.tenant_id, intent_id)
        if intent is None or intent.environment != environment_of(principal):
            raise PaymentNotFound(f"No payment {intent_id!r}.", param="id")
        integration = await integrations.get(session, intent.tenant_id, intent.integration_id)
        if integration is None:  # the FK forbids it
            raise PaymentNotFound(f"No integration for payment {intent_id!r}.", param="id")
        earlier = await repository.operation_with_key(
            session, intent.id, operation, idempotency_key
        )
        if earlier is not None:  # closing the session ends the transaction, objects stay loaded
            return Begun(intent, earlier, integration, replayed=True)
        op = await prepare(session, intent)
        session.add(op)
        await session.flush()
        await queue_sync(
            session, op, timedelta(seconds=runtime.settings.payments_sync_delay_seconds)
        )
        await commit_begun(session)
    log.info(
        "payment_operation_begun",
        order_id=intent.order_id,
        intent_id=intent.id,
        operation_id=op.id,
        operation=op.operation,
        amount=op.amount,
        correlation_id=current_request_id(),
    )
    return Begun(intent, op, integration)


def replay(begun: Begun, *, amount: int | None, final: bool | None = None) -> Result:
    """The answer to a repeated request: the operation as it stands, never a second one. A
    different amount (or finality) under the same key is another request: refused."""
    op = begun.op
    if (amount is not None and amount != op.amount) or (final is not None and final != op.final):
        raise IdempotencyError(
            f"This Idempotency-Key already names the {op.operation} {op.id} of {op.amount} "
            f"{op.currency}; use a new key for a new {op.operation}.",
            param="Idempotency-Key",
        )
    if op.status == "failed":
        raise OperationFailed(
            f"The {op.operation} {op.id} made under this Idempotency-Key failed "
            f"({op.error_code}: {op.error_message}); use a new key to try again.",
            param="Idempotency-Key",
        )
    log.info(
        "payment_operation_replayed",
        order_id=begun.intent.order_id,
        intent_id=begun.intent.id,
        operation_id=op.id,
        operation=op.operation,
        status=op.status,
        correlation_id=current_request_id(),
    )
    return Result(begun.intent, pending=op.status == "pending")


async def call_and_settle(
    runtime: ProviderRuntime,
    integration: Integration,
    intent: PaymentIntent,
    op: PaymentOperation,
    call: Call,
    actor: ledger.Actor,
) -> tuple[PaymentIntent, PaymentOperation]:
    bound = access.bind(runtime, integration)
    try:
        outcome = await call(bound, intent, op)
    except ProviderFailure as exc:
        outcome = ledger.Outcome(error=exc)
    finally:
        await bound.flush_audit(runtime)
    validity = bound.provider.authorization_validity
    async with runtime.db.session() as session:
        intent, op = await ledger.apply(
            session,
            intent.tenant_id,
            intent.id,
            op.id,
            outcome,
            actor,
            authorization_validity=validity,
        )
        await session.commit()
    metrics.PAYMENT_OPERATIONS.labels(intent.connection_code, op.operation, op.status).inc()
    log.info(
        "payment_operation_settled",
        order_id=intent.order_id,
        intent_id=intent.id,
        operation_id=op.id,
        operation=op.operation,
        status=op.status,
        correlation_id=actor.correlation_id,
    )
    if op.status == "failed":
        if outcome.error is not None:
            raise refusal(outcome.error)
        raise PaymentDeclined(op.error_message or "The provider refused the payment.")
    return intent, op


def refusal(error: ProviderFailure) -> AppError:
    if isinstance(error, ProviderDeclined):
        return PaymentDeclined(error.message, param="payment_method")
    return to_app_error(error)


@dataclass(frozen=True)
class Result:
    intent: PaymentIntent
    pending: bool
