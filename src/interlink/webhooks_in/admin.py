"""Inspecting and replaying stored inbound events (tenant-scoped)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.jobs.enqueue import enqueue
from interlink.kit.clock import now
from interlink.models import InboundEvent
from interlink.webhooks_in import repository, verification
from interlink.webhooks_in.exceptions import InboundEventNotFound, InboundEventNotReplayable
from interlink.webhooks_in.schemas import (
    BulkReplay,
    BulkReplayResult,
    InboundEventDetail,
    InboundEventRead,
)
from interlink.webhooks_in.service import PROCESS_JOB

BULK_REPLAY_LIMIT = 500


async def get(session: AsyncSession, tenant_id: str, event_id: str) -> InboundEventDetail:
    event = await _require(session, tenant_id, event_id)
    read = InboundEventRead.model_validate(event)
    payload = verification.parse(event.body)
    return InboundEventDetail(
        **read.model_dump(),
        headers=event.headers,
        body=event.body.decode("utf-8", errors="replace"),
        payload=payload or None,
    )


async def replay(session: AsyncSession, tenant_id: str, event_id: str) -> InboundEventRead:
    event = await _require(session, tenant_id, event_id)
    await _requeue(session, event)
    return InboundEventRead.model_validate(event)


async def replay_dead(session: AsyncSession, tenant_id: str, body: BulkReplay) -> BulkReplayResult:
    events = await repository.dead_since(
        session, tenant_id, body.since, body.integration_id, BULK_REPLAY_LIMIT + 1
    )
    batch = list(events[:BULK_REPLAY_LIMIT])
    for event in batch:
        await _requeue(session, event)
    return BulkReplayResult(
        replayed=len(batch), ids=[e.id for e in batch], has_more=len(events) > BULK_REPLAY_LIMIT
    )


async def _require(session: AsyncSession, tenant_id: str, event_id: str) -> InboundEvent:
    event = await repository.get(session, tenant_id, event_id)
    if event is None:
        raise InboundEventNotFound(f"No inbound event {event_id!r}.", param="id")
    return event


async def _requeue(session: AsyncSession, event: InboundEvent) -> None:
    """Run the event's handler again with a fresh attempt budget; handlers apply only forward
    transitions, so replaying an already processed event is safe."""
    if not event.signature_valid:
        raise InboundEventNotReplayable(
            "A delivery that failed the signature check is never processed.", param="id"
        )
    event.replays += 1
    event.status = "received"
    event.status_reason = None
    event.attempts = 0
    event.next_attempt_at = now()
    await session.flush()
    await enqueue(
        session, PROCESS_JOB, key=f"inbound:{event.id}:replay:{event.replays}", event_id=event.id
    )
