"""Every query of inbound webhooks; admin queries are tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Select, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.sqlite_thread import SQLiteStatement
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


async def insert_many_once(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert each event unless one with its (integration, provider event id) exists, in one
    statement; the ids of the rows stored. Concurrent deliveries of one event race on the unique
    constraint and exactly one wins. Every row must have the same keys."""
    stmt = _INSERT_ONCE["sqlite" if session.get_bind().dialect.name == "sqlite" else "postgresql"]
    return set((await session.execute(stmt, rows)).scalars().all())


def sqlite_insert_once(dialect: Dialect, keys: Sequence[str]) -> SQLiteStatement:
    """``insert_many_once`` of one row, for a transaction run on sqlite3 itself: the row's id
    comes back when it is stored, nothing when its event was stored before."""
    return SQLiteStatement(_INSERT_ONCE["sqlite"], dialect, keys)


def sqlite_first_id(dialect: Dialect) -> SQLiteStatement:
    """The stored event's id, by ``integration_id`` and ``provider_event_id``, on sqlite3."""
    return SQLiteStatement(_FIRST_ID, dialect)


async def first_ids(
    session: AsyncSession, identities: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The stored event's id for each (integration id, provider event id) that has one."""
    stmt = select(_EVENTS.c.integration_id, _EVENTS.c.provider_event_id, _EVENTS.c.id).where(
        _EVENTS.c.integration_id.in_(sorted({i for i, _ in identities})),
        _EVENTS.c.provider_event_id.in_(sorted({p for _, p in identities})),
    )
    wanted = set(identities)
    found: dict[tuple[str, str], str] = {}
    for integration_id, provider_event_id, event_id in (await session.execute(stmt)).all():
        if (integration_id, provider_event_id) in wanted:
            found[(integration_id, provider_event_id)] = event_id
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
