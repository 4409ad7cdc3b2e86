from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def get_endpoint(
    session: AsyncSession, tenant_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
    )


def endpoints_query(tenant_id: str) -> Select[Any]:
    return select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)


async def enabled_endpoints(session: AsyncSession, tenant_id: str) -> Sequence[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True)
    )
    return (await session.scalars(stmt)).all()


def deliveries_query(
    tenant_id: str,
    endpoint_id: str,
    status: str | None,
    event_type: str | None,
    since: datetime | None,
) -> Select[Any]:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if event_type is not None:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    if since is not None:
        stmt = stmt.where(WebhookDelivery.created_at >= since)
    return stmt


async def get_delivery(
    session: AsyncSession, tenant_id: str, endpoint_id: str, delivery_id: str
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id,
        )
    )


async def attempts_of(session: AsyncSession, delivery_id: str) -> Sequence[WebhookAttempt]:
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
    )
    return (await session.scalars(stmt)).all()


async def failed_since(
    session: AsyncSession, tenant_id: str, endpoint_id: str, since: datetime
) -> Sequence[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status == "failed",
        WebhookDelivery.created_at >= since,
    )
    return (await session.scalars(stmt)).all()


async def delivery_bundle(
    session: AsyncSession, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEndpoint, Event] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint, Event)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def fail_pending_of(session: AsyncSession, endpoint_id: str, reason: str) -> int:
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", next_attempt_at=None, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune(session: AsyncSession, cutoff: datetime) -> tuple[int, int, int]:
    """Attempts older than ``cutoff``, finished deliveries created before it, and events older
    than it that no delivery refers to any more."""
    attempts = await session.execute(
        delete(WebhookAttempt).where(WebhookAttempt.attempted_at < cutoff)
    )
    deliveries = await session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.status != "pending"
        )
    )
    referenced = select(WebhookDelivery.event_id).where(WebhookDelivery.event_id == Event.id)
    events = await session.execute(
        delete(Event).where(Event.created_at < cutoff, ~referenced.exists())
    )
    return (
        int(attempts.rowcount),  # type: ignore[attr-defined]
        int(deliveries.rowcount),  # type: ignore[attr-defined]
        int(events.rowcount),  # type: ignore[attr-defined]
    )


async def delivery_stats(
    session: AsyncSession,
) -> tuple[list[tuple[str, int]], datetime | None]:
    rows = (
        await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
    ).all()
    oldest = await session.scalar(
        select(func.min(WebhookDelivery.created_at)).where(WebhookDelivery.status == "pending")
    )
    return [(str(r[0]), int(r[1])) for r in rows], oldest
