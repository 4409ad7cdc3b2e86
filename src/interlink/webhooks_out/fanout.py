"""Fan-out: one delivery row per subscribed, enabled endpoint, written in the publishing
transaction with a single ``INSERT`` (the delivery row is its own queue entry: ``pending`` and due
at ``next_attempt_at``), and one wake-up of the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Event, WebhookDelivery, WebhookEndpoint
from interlink.webhooks_out import schedule
from interlink.webhooks_out.wakeup import wake

NEVER_FANNED_OUT = frozenset({"webhook.test"})
_deliveries = cast(Table, WebhookDelivery.__table__)


def subscribed(patterns: Sequence[str], event_type: str) -> bool:
    if not patterns:
        return True
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def _matches(
    event_types: Sequence[str], channels: Sequence[str] | None, event_type: str, event_channels: Any
) -> bool:
    if not subscribed(event_types, event_type):
        return False
    if channels:
        return bool(set(channels) & set(event_channels or ()))
    return True


def matches(endpoint: WebhookEndpoint, event: Event) -> bool:
    return _matches(endpoint.event_types, endpoint.channels, event.type, event.channels)


async def fan_out(session: AsyncSession, event: Event) -> int:
    """Create the deliveries of ``event`` in ``session``; running it again creates none twice
    (a unique ``(endpoint, event)`` index decides)."""
    if event.type in NEVER_FANNED_OUT:
        return 0
    candidates = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types, WebhookEndpoint.channels).where(
                WebhookEndpoint.tenant_id == event.tenant_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    ).all()
    targets = [row[0] for row in candidates if _matches(row[1], row[2], event.type, event.channels)]
    if not targets:
        return 0
    at = now()
    values = [
        {
            "id": new_id("msg"),
            "tenant_id": event.tenant_id,
            "endpoint_id": endpoint_id,
            "event_id": event.id,
            "event_type": event.type,
            "status": "pending",
            "attempts": 0,
            "attempts_allowed": schedule.MAX_ATTEMPTS,
            "next_attempt_at": at,
            "created_at": at,
            "updated_at": at,
        }
        for endpoint_id in targets
    ]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    # one statement with a parameter list: SQLAlchemy sends it as a single multi-row INSERT
    # (insertmanyvalues) and compiles it once per process, not once per event
    stmt = (
        dialect.insert(_deliveries)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(_deliveries.c.id)
    )
    created = len((await session.execute(stmt, values)).all())
    if created:
        await wake(session)
    return created
