"""Processing one stored event: find its handler, run it in a savepoint, record the outcome;
on failure retry with backoff and dead-letter after the last attempt."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.config import Settings
from interlink.jobs.registry import Retry
from interlink.kit.clock import now
from interlink.models import InboundEvent
from interlink.observability import metrics
from interlink.webhooks_in import handlers, repository, verification
from interlink.webhooks_in.handlers import Handled, InboundContext, MalformedEvent

log = structlog.get_logger(__name__)

PENDING = ("received", "retrying")
MAX_ERROR_CHARS = 2000


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.inbound_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.inbound_retry_cap_seconds))


async def process(session: AsyncSession, settings: Settings, event_id: str) -> Retry | None:
    """Idempotent: an event that is no longer pending (processed, ignored, dead) is left alone,
    so a duplicate job or a late retry does nothing."""
    event = await repository.for_processing(session, event_id)
    if event is None or event.status not in PENDING or not event.signature_valid:
        return None
    handler = handlers.find(event.connection_code, event.event_type or "")
    if handler is None:
        what = event.event_type or "(none)"
        _finish(event, Handled.ignored(f"no handler for event type {what!r}"))
        return None
    payload = verification.parse(event.body)
    ctx = InboundContext(
        session=session,
        tenant_id=event.tenant_id,
        integration_id=event.integration_id,
        connection_code=event.connection_code,
        inbound_event_id=event.id,
        provider_event_id=event.provider_event_id,
        event_type=event.event_type or "",
        payload=payload,
    )
    event.attempts += 1
    await session.flush()
    try:
        async with session.begin_nested():
            outcome = await handler(ctx)
    except Exception as exc:
        await session.refresh(event)
        return _failed(event, settings, exc)
    _finish(event, outcome)
    return None


def _finish(event: InboundEvent, outcome: Handled) -> None:
    event.status = outcome.status
    event.status_reason = outcome.reason
    event.processed_at = now()
    event.next_attempt_at = None
    metrics.INBOUND_PROCESSED.labels(event.connection_code, outcome.status).inc()


def _failed(event: InboundEvent, settings: Settings, exc: Exception) -> Retry | None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    event.last_error = error
    permanent = isinstance(exc, MalformedEvent)
    if permanent or event.attempts >= settings.inbound_max_attempts:
        event.status = "dead"
        event.status_reason = (
            "malformed event" if permanent else f"dead after {event.attempts} attempts"
        )
        event.next_attempt_at = None
        metrics.INBOUND_PROCESSED.labels(event.connection_code, "dead").inc()
        log.error(
            "inbound_event_dead", inbound_event=event.id, attempts=event.attempts, error=error
        )
        return None
    delay = backoff(settings, event.attempts)
    event.status = "retrying"
    event.next_attempt_at = now() + delay
    metrics.INBOUND_PROCESSED.labels(event.connection_code, "retry").inc()
    log.warning(
        "inbound_event_failed", inbound_event=event.id, attempts=event.attempts, error=error
    )
    return Retry(after=delay, reason=error)
