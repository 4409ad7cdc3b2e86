"""Every query of the payments domain; each is tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import (
    CheckoutSnapshot,
    OrderStatusHistory,
    PaymentIntent,
    PaymentOperation,
    ReconciliationFinding,
    ReconciliationRun,
)
from interlink.models.payment import ACTIVE_STATUSES


async def get_snapshot(
    session: AsyncSession, tenant_id: str, snapshot_id: str
) -> CheckoutSnapshot | None:
    return await session.scalar(
        select(CheckoutSnapshot).where(
            CheckoutSnapshot.tenant_id == tenant_id, CheckoutSnapshot.id == snapshot_id
        )
    )


async def get_intent(session: AsyncSession, tenant_id: str, intent_id: str) -> PaymentIntent | None:
    return await session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.tenant_id == tenant_id, PaymentIntent.id == intent_id
        )
    )


async def lock_intent(
    session: AsyncSession, tenant_id: str, intent_id: str
) -> PaymentIntent | None:
    """The intent, locked for this transaction (``FOR UPDATE`` on PostgreSQL; on SQLite the
    transaction already holds the database's write lock from ``BEGIN IMMEDIATE``)."""
    return await session.scalar(
        select(PaymentIntent)
        .where(PaymentIntent.tenant_id == tenant_id, PaymentIntent.id == intent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def active_intent_of_order(
    session: AsyncSession, tenant_id: str, order_id: str
) -> PaymentIntent | None:
    return await session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.tenant_id == tenant_id,
            PaymentIntent.order_id == order_id,
            PaymentIntent.status.in_(ACTIVE_STATUSES),
        )
    )


async def active_intent_of_snapshot(
    session: AsyncSession, snapshot_id: str
) -> PaymentIntent | None:
    return await session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.snapshot_id == snapshot_id,
            PaymentIntent.status.in_(ACTIVE_STATUSES),
        )
    )


async def intents_of_order(
    session: AsyncSession, tenant_id: str, order_id: str
) -> Sequence[PaymentIntent]:
    stmt = (
        select(PaymentIntent)
        .where(PaymentIntent.tenant_id == tenant_id, PaymentIntent.order_id == order_id)
        .order_by(PaymentIntent.id)
    )
    return (await session.scalars(stmt)).all()


async def operations_of(
    session: AsyncSession, intent_ids: Sequence[str]
) -> Sequence[PaymentOperation]:
    if not intent_ids:
        return []
    stmt = (
        select(PaymentOperation)
        .where(PaymentOperation.intent_id.in_(intent_ids))
        .order_by(PaymentOperation.id)
    )
    return (await session.scalars(stmt)).all()


async def lock_operation(session: AsyncSession, operation_id: str) -> PaymentOperation | None:
    return await session.scalar(
        select(PaymentOperation)
        .where(PaymentOperation.id == operation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def operation_with_key(
    session: AsyncSession, intent_id: str, operation: str, idempotency_key: str
) -> PaymentOperation | None:
    """The ``operation`` of the intent made under ``idempotency_key`` (unique per intent)."""
    return await session.scalar(
        select(PaymentOperation).where(
            PaymentOperation.intent_id == intent_id,
            PaymentOperation.operation == operation,
            PaymentOperation.idempotency_key == idempotency_key,
        )
    )


async def get_operation(session: AsyncSession, operation_id: str) -> PaymentOperation | None:
    return await session.scalar(select(PaymentOperation).where(PaymentOperation.id == operation_id))


async def history_of_order(
    session: AsyncSession, tenant_id: str, order_id: str
) -> Sequence[OrderStatusHistory]:
    stmt = (
        select(OrderStatusHistory)
        .where(OrderStatusHistory.tenant_id == tenant_id, OrderStatusHistory.order_id == order_id)
        .order_by(OrderStatusHistory.id)
    )
    return (await session.scalars(stmt)).all()


async def intents_in_window(
    session: AsyncSession, tenant_id: str, start: datetime, end: datetime
) -> Sequence[PaymentIntent]:
    stmt = (
        select(PaymentIntent)
        .where(
            PaymentIntent.tenant_id == tenant_id,
            PaymentIntent.updated_at >= start,
            PaymentIntent.updated_at <= end,
        )
        .order_by(PaymentIntent.id)
    )
    return (await session.scalars(stmt)).all()


async def expired_authorizations(
    session: AsyncSession, tenant_id: str, at: datetime
) -> Sequence[PaymentIntent]:
    stmt = select(PaymentIntent).where(
        PaymentIntent.tenant_id == tenant_id,
        PaymentIntent.status == "authorized",
        PaymentIntent.captured_amount == 0,
        PaymentIntent.authorization_expires_at < at,
    )
    return (await session.scalars(stmt)).all()


async def get_run(session: AsyncSession, tenant_id: str, run_id: str) -> ReconciliationRun | None:
    return await session.scalar(
        select(ReconciliationRun).where(
            ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id
        )
    )


async def findings_of(session: AsyncSession, run_id: str) -> Sequence[ReconciliationFinding]:
    stmt = (
        select(ReconciliationFinding)
        .where(ReconciliationFinding.run_id == run_id)
        .order_by(ReconciliationFinding.id)
    )
    return (await session.scalars(stmt)).all()


async def intent_by_provider_reference(
    session: AsyncSession, tenant_id: str, integration_id: str, references: Sequence[str]
) -> PaymentIntent | None:
    return await session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.tenant_id == tenant_id,
            PaymentIntent.integration_id == integration_id,
            PaymentIntent.provider_reference.in_(list(references)),
        )
    )


async def pending_operations_of(
    session: AsyncSession, intent_id: str
) -> Sequence[PaymentOperation]:
    rows = await session.scalars(
        select(PaymentOperation).where(
            PaymentOperation.intent_id == intent_id, PaymentOperation.status == "pending"
        )
    )
    return rows.all()
