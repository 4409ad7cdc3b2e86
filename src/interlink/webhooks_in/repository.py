"""Every query of inbound webhooks; admin queries are tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import InboundEvent, Integration


async def integration(session: AsyncSession, integration_id: str) -> Integration | None:
    # the public endpoint's path names the integration; its row names the tenant
    return await session.get(Integration, integration_id)


async def insert_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the event unless one with its (integration, provider event id) exists; concurrent
    deliveries of one event race on the unique constraint and exactly one wins."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    stmt = (
        dialect.insert(InboundEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["integration_id", "provider_event_id"])
        .returning(InboundEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def by_provider_id(
    session: AsyncSession, integration_id: str, provider_event_id: str
) -> InboundEvent | None:
    return await session.scalar(
        select(InboundEvent).where(
            InboundEvent.integration_id == integration_id,
            InboundEvent.provider_event_id == provider_event_id,
        )
    )


async def for_processing(session: AsyncSession, event_id: str) -> InboundEvent | None:
    stmt = select(InboundEvent).where(InboundEvent.id == event_id)
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get(session: AsyncSession, tenant_id: str, event_id: str) -> InboundEvent | None:
    return await session.scalar(
        select(InboundEvent).where(InboundEvent.tenant_id == tenant_id, InboundEvent.id == event_id)
    )


def list_stmt(
    tenant_id: str,
    *,
    integration_id: str | None = None,
    event_type: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
) -> Select[Any]:
    stmt = select(InboundEvent).where(InboundEvent.tenant_id == tenant_id)
    if integration_id is not None:
        stmt = stmt.where(InboundEvent.integration_id == integration_id)
    if event_type is not None:
        stmt = stmt.where(InboundEvent.event_type == event_type)
    if status is not None:
        stmt = stmt.where(InboundEvent.status == status)
    if since is not None:
        stmt = stmt.where(InboundEvent.received_at >= since)
    return stmt


async def dead_since(
    session: AsyncSession,
    tenant_id: str,
    since: datetime,
    integration_id: str | None,
    limit: int,
) -> Sequence[InboundEvent]:
    stmt = list_stmt(tenant_id, integration_id=integration_id, status="dead", since=since)
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.scalars(stmt.order_by(InboundEvent.id).limit(limit))).all()


SETTLED = ("processed", "ignored", "rejected")


async def prune_settled(session: AsyncSession, older_than: datetime) -> int:
    result = await session.execute(
        delete(InboundEvent).where(
            InboundEvent.status.in_(SETTLED), InboundEvent.received_at < older_than
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
