from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import Event, EventType, WebhookDelivery


async def tenant_types(session: AsyncSession, tenant_id: str) -> Sequence[EventType]:
    stmt = select(EventType).where(EventType.tenant_id == tenant_id).order_by(EventType.name)
    return (await session.scalars(stmt)).all()


async def tenant_type(session: AsyncSession, tenant_id: str, name: str) -> EventType | None:
    return await session.scalar(
        select(EventType).where(EventType.tenant_id == tenant_id, EventType.name == name)
    )


async def get_event(session: AsyncSession, tenant_id: str, event_id: str) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.tenant_id == tenant_id, Event.id == event_id)
    )


def events_query(tenant_id: str, event_type: str | None) -> Select[Any]:
    stmt = select(Event).where(Event.tenant_id == tenant_id)
    if event_type is not None:
        stmt = stmt.where(Event.type == event_type)
    return stmt


async def deliveries_of(session: AsyncSession, event_id: str) -> Sequence[WebhookDelivery]:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.event_id == event_id)
        .order_by(WebhookDelivery.id)
    )
    return (await session.scalars(stmt)).all()
