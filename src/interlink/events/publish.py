"""``publish``: the one way any domain (or the platform, through the API) records an event.

The event row and its webhook deliveries (one row per subscribed endpoint, plus a wake-up of the
delivery dispatcher) are written in the caller's transaction, so an event exists if and only if
the change that caused it committed, and its deliveries cannot be lost.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.errors import ValidationFailed
from interlink.events.subscribers import jobs_for
from interlink.jobs.enqueue import enqueue
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Event
from interlink.observability.context import current_request_id
from interlink.webhooks_out.fanout import fan_out

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def check_type(event_type: str) -> None:
    if not EVENT_TYPE.match(event_type) or len(event_type) > 100:
        raise ValidationFailed(
            f"{event_type!r} is not an event type: use dotted lower-case names such as "
            "'order.created'.",
            param="type",
            code="invalid_event_type",
        )


async def publish(
    session: AsyncSession,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    external_id: str | None = None,
    source: str = "interlink",
    channels: list[str] | None = None,
) -> Event:
    """Record ``event_type`` for the tenant and queue its fan-out to subscribers.

    With ``external_id``, publishing the same id again returns the first event unchanged.
    """
    check_type(event_type)
    if external_id is not None:
        existing = await session.scalar(
            select(Event).where(Event.tenant_id == tenant_id, Event.external_id == external_id)
        )
        if existing is not None:
            return existing
    event = Event(
        id=new_id("evt"),
        tenant_id=tenant_id,
        type=event_type,
        data=data,
        external_id=external_id,
        source=source,
        channels=channels or None,
        request_id=current_request_id(),
        created_at=now(),
    )
    if external_id is None:
        session.add(event)
        await session.flush()
    else:
        try:
            async with session.begin_nested():
                session.add(event)
                await session.flush()
        except IntegrityError:
            # a concurrent publish of the same external id committed first
            existing = await session.scalar(
                select(Event).where(Event.tenant_id == tenant_id, Event.external_id == external_id)
            )
            if existing is None:
                raise
            return existing
    # the deliveries commit with the event (one INSERT for all subscribed endpoints)
    await fan_out(session, event)
    for job_name in jobs_for(event_type):
        await enqueue(session, job_name, key=f"{job_name}:{event.id}", event_id=event.id)
    return event


def envelope(event: Event) -> dict[str, Any]:
    """The event as subscribers receive it."""
    from interlink.kit.clock import rfc3339

    return {
        "id": event.id,
        "type": event.type,
        "created": rfc3339(event.created_at),
        "tenant": event.tenant_id,
        "data": event.data,
    }
