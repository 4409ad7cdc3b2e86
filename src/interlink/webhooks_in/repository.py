"""Every query of inbound webhooks; admin queries are tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import InboundEvent, Integration

# The receiving path's statements are built once, on the tables rather than the mapped classes,
# and take their values as parameters: no ORM bookkeeping and no per-request cache key over the
# values (the insert with .values(**row) cost more than the database round trip).
_EVENTS = InboundEvent.__table__
_INTEGRATIONS = Integration.__table__
_RECEIVING_ROW = select(
    _INTEGRATIONS.c.id,
    _INTEGRATIONS.c.tenant_id,
    _INTEGRATIONS.c.connection_code,
    _INTEGRATIONS.c.settings,
    _INTEGRATIONS.c.credentials_sealed,
).where(_INTEGRATIONS.c.id == bindparam("integration_id"))
_INSERT_ONCE = {
    name: dialect.insert(_EVENTS)
    .on_conflict_do_nothing(index_elements=["integration_id", "provider_event_id"])
    .returning(_EVENTS.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_FIRST_ID = select(_EVENTS.c.id).where(
    _EVENTS.c.integration_id == bindparam("integration_id"),
    _EVENTS.c.provider_event_id == bindparam("provider_event_id"),
)


async def integration(session: AsyncSession, integration_id: str) -> Integration | None:
    # the public endpoint's path names the integration; its row names the tenant
    return await session.get(Integration, integration_id)


async def receiving_row(session: AsyncSession, integration_id: str) -> Any:
    """The integration's columns that receiving a webhook needs (a row, or None)."""
    result = await session.execute(_RECEIVING_ROW, {"integration_id": integration_id})
    return result.first()


async def insert_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the event unless one with its (integration, provider event id) exists; concurrent
    deliveries of one event race on the unique constraint and exactly one wins. ``values`` must
    name every column the insert sets (the same keys on every call)."""
    stmt = _INSERT_ONCE["sqlite" if session.get_bind().dialect.name == "sqlite" else "postgresql"]
    return (await session.execute(stmt, values)).scalar_one_or_none() is not None


async def first_id(
    session: AsyncSession, integration_id: str, provider_event_id: str
) -> str | None:
    """The id of the event stored first for this (integration, provider event id)."""
    found: str | None = await session.scalar(
        _FIRST_ID, {"integration_id": integration_id, "provider_event_id": provider_event_id}
    )
    return found


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
