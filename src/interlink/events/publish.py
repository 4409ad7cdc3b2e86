"""``publish``: the one way any domain (or the platform, through the API) records an event.

The event row and its webhook deliveries (one row per subscribed endpoint, plus a wake-up of the
delivery dispatcher) are written in the caller's transaction, so an event exists if and only if
the change that caused it committed, and its deliveries cannot be lost. On PostgreSQL that is one
statement (``webhooks_out.fanout``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.errors import ValidationFailed
from interlink.events.subscribers import jobs_for
from interlink.jobs.enqueue import enqueue
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Event
from interlink.observability.context import current_request_id
from interlink.webhooks_out.fanout import insert_published

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
    # the rows are written by Core statements, which do not flush the session's pending changes
    # (an endpoint changed, a tenant added in this transaction) as an ORM query would; with none
    # pending, the flush (a greenlet hand-off) is skipped
    if session.new or session.dirty or session.deleted:
        await session.flush()
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
    created = await insert_published(
        session,
        event_id=event.id,
        tenant_id=tenant_id,
        event_type=event_type,
        data=data,
        external_id=external_id,
        source=source,
        request_id=event.request_id,
        channels=event.channels,
        at=event.created_at,
    )
    if not created:
        # this external id was published before (or by a concurrent publish that committed
        # first: the unique index made this one wait for it)
        existing = await session.scalar(
            select(Event).where(Event.tenant_id == tenant_id, Event.external_id == external_id)
        )
        if existing is None:  # pragma: no cover - the insert found it
            raise LookupError(f"event {external_id!r} of tenant {tenant_id!r} vanished")
        return existing
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
