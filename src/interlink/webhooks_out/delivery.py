"""One attempt of one delivery: read, send outside any transaction, then record the outcome.

The outcome decides the delivery's schedule (``next_attempt_at``): the delivery row is its own
queue entry, claimed by the dispatcher (``dispatch.py``) when due, and a failed attempt queues a
dispatcher wake-up at that time in the same transaction that records it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.events.publish import envelope, publish
from interlink.jobs.enqueue import enqueue
from interlink.kit import signing
from interlink.kit.clock import now, rfc3339
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from interlink.observability import metrics
from interlink.webhooks_out import schedule
from interlink.webhooks_out.client import AttemptResult, DeliveryClient
from interlink.webhooks_out.secrets import signing_secrets
from interlink.webhooks_out.wakeup import wake

log = structlog.get_logger(__name__)

DELIVER_JOB = "webhooks.deliver"
THROTTLING = frozenset({429, 502, 503, 504})
DISABLED_EVENT = "webhook_endpoint.disabled"
ERROR_TEXT = 500


@dataclass(frozen=True)
class Prepared:
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float


def prepare(
    keyring: Keyring, endpoint: WebhookEndpoint, delivery_id: str, event: Event
) -> Prepared:
    """The exact bytes and headers of an attempt; the ``webhook-id`` is the delivery id, the
    same on every attempt, so receivers de-duplicate by it."""
    body = orjson.dumps(envelope(event))
    timestamp = int(time.time())  # receivers compare it with their wall clock
    headers = dict(endpoint.headers)
    headers["Content-Type"] = "application/json"
    headers.update(
        signing.headers(signing_secrets(keyring, endpoint, now()), delivery_id, timestamp, body)
    )
    return Prepared(endpoint.url, body, headers, endpoint.timeout_seconds)


async def queue_attempt(
    session: AsyncSession,
    delivery_id: str,
    attempts: int,
    run_at: datetime | None,
    trigger: str = "scheduled",
) -> None:
    """Queue a ``webhooks.deliver`` job for attempt ``attempts + 1`` (manual retries and
    recoveries; scheduled attempts are the dispatcher's). A job whose number no longer matches
    the delivery does nothing."""
    key = f"whdel:{delivery_id}:{attempts}"
    if trigger != "scheduled":
        key += f":{new_id('rq')}"
    await enqueue(
        session,
        DELIVER_JOB,
        key=key,
        run_at=run_at,
        delivery_id=delivery_id,
        attempt=attempts,
        trigger=trigger,
    )


async def record_success(
    session: AsyncSession,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    result: AttemptResult,
    *,
    attempted_at: datetime,
    trigger: str,
) -> bool:
    """The common case in two statements: a compare-and-set on the delivery (it is still
    pending at the attempt count this job read) and the attempt row. ``False`` if another
    attempt was recorded meanwhile."""
    changed = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == delivery.attempts,
        )
        .values(
            status="succeeded",
            attempts=delivery.attempts + 1,
            next_attempt_at=None,
            last_attempt_at=attempted_at,
            last_status_code=result.status_code,
            last_error=None,
            updated_at=now(),
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        insert(WebhookAttempt).values(
            id=new_id("atm"),
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            attempted_at=attempted_at,
            succeeded=True,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response_body=result.response_body,
            trigger=trigger,
        )
    )
    if endpoint.failing_since is not None:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id)
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
    metrics.WEBHOOK_ATTEMPT_LATENCY.observe(result.duration_ms / 1000)
    metrics.WEBHOOK_DELIVERIES.labels("succeeded").inc()
    return True


async def record(
    session: AsyncSession,
    delivery_id: str,
    result: AttemptResult,
    *,
    attempted_at: datetime,
    trigger: str,
    disable_after: timedelta,
    expected_attempts: int | None = None,
) -> WebhookAttempt | None:
    """Write the attempt and its consequences in ``session``; ``None`` if the delivery vanished
    or another attempt was recorded meanwhile (the receiver got a duplicate, same webhook-id)."""
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        return None
    if expected_attempts is not None and delivery.attempts != expected_attempts:
        return None
    at = now()
    attempt = WebhookAttempt(
        id=new_id("atm"),
        tenant_id=delivery.tenant_id,
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        attempted_at=attempted_at,
        succeeded=result.succeeded,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_body=result.response_body,
        error_class=result.error_class,
        error_message=(result.error_message or None) and result.error_message[:ERROR_TEXT],
        trigger=trigger,
    )
    session.add(attempt)
    metrics.WEBHOOK_ATTEMPT_LATENCY.observe(result.duration_ms / 1000)
    delivery.attempts += 1
    delivery.last_attempt_at = attempted_at
    delivery.last_status_code = result.status_code
    delivery.last_error = attempt.error_message
    if result.succeeded:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        metrics.WEBHOOK_DELIVERIES.labels("succeeded").inc()
        if trigger != "test":
            # no row lock on the endpoint unless it was failing: a busy endpoint's deliveries
            # must not queue behind each other here
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == delivery.endpoint_id,
                    WebhookEndpoint.failing_since.is_not(None),
                )
                .values(failing_since=None)
                .execution_options(synchronize_session=False)
            )
        await session.flush()
        return attempt

    endpoint = await session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == delivery.endpoint_id)
        # NO KEY UPDATE: publishers inserting deliveries for this endpoint (FOR KEY SHARE through
        # the foreign key) are not blocked by it
        .with_for_update(key_share=True)
    )
    if endpoint is None:
        return None
    if trigger == "test":
        # a test send reports the endpoint's answer; it neither retries nor judges the endpoint
        delivery.status = "failed"
        delivery.next_attempt_at = None
        await session.flush()
        return attempt
    if endpoint.failing_since is None:
        endpoint.failing_since = attempted_at
    if result.status_code == 410:
        await _disable(session, endpoint, delivery, "the endpoint answered 410 Gone", at)
    elif endpoint.enabled and at - endpoint.failing_since >= disable_after:
        days = disable_after.total_seconds() / 86400
        await _disable(session, endpoint, delivery, f"failing for {days:g} days", at)
    elif delivery.attempts >= delivery.attempts_allowed:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
        log.info(
            "webhook_delivery_dead_lettered", delivery_id=delivery.id, attempts=delivery.attempts
        )
    else:
        delay = schedule.delay_after(delivery.attempts)
        if result.status_code in THROTTLING:
            retry_after = schedule.parse_retry_after(result.retry_after, at)
            if retry_after is not None:
                delay = retry_after
                endpoint.paused_until = at + retry_after
        delivery.next_attempt_at = at + delay
        metrics.WEBHOOK_DELIVERIES.labels("retrying").inc()
        await session.flush()
        # the dispatcher makes the next attempt; this wake-up is its durable timer
        await wake(
            session,
            run_at=delivery.next_attempt_at,
            key=f"whretry:{delivery.id}:{delivery.attempts}",
        )
    await session.flush()
    return attempt


async def _disable(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    reason: str,
    at: datetime,
) -> None:
    delivery.status = "failed"
    delivery.next_attempt_at = None
    metrics.WEBHOOK_DELIVERIES.labels("disabled").inc()
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    await session.flush()
    from interlink.webhooks_out.repository import fail_pending_of

    await fail_pending_of(session, endpoint.id, f"endpoint disabled: {reason}")
    log.warning("webhook_endpoint_disabled", endpoint_id=endpoint.id, reason=reason)
    await publish(
        session,
        endpoint.tenant_id,
        DISABLED_EVENT,
        {
            "object": {
                "id": endpoint.id,
                "url": endpoint.url,
                "reason": reason,
                "failing_since": rfc3339(endpoint.failing_since or at),
                "disabled_at": rfc3339(at),
            }
        },
    )


class Gates:
    """In-process bounds on deliveries in flight: to one endpoint, and in all. A job that finds
    its endpoint's gate full gives its worker slot back at once instead of waiting in it."""

    def __init__(self, per_endpoint: int, overall: int) -> None:
        self.per_endpoint = per_endpoint
        self.overall = overall
        self.total = 0
        self._endpoints: dict[str, int] = {}

    def try_enter(self, endpoint_id: str) -> bool:
        if self.total >= self.overall or self._endpoints.get(endpoint_id, 0) >= self.per_endpoint:
            return False
        self._endpoints[endpoint_id] = self._endpoints.get(endpoint_id, 0) + 1
        self.total += 1
        return True

    def enter(self, endpoint_id: str) -> None:
        """Count a send that a claim already kept within the endpoint's free share."""
        self._endpoints[endpoint_id] = self._endpoints.get(endpoint_id, 0) + 1
        self.total += 1

    def free_shares(self) -> tuple[list[str], list[int]]:
        """The endpoints with sends in flight and room for more, and how many more each."""
        ids = [e for e, n in self._endpoints.items() if n < self.per_endpoint]
        return ids, [self.per_endpoint - self._endpoints[e] for e in ids]

    def full_endpoints(self) -> list[str]:
        """Endpoints whose share is all in flight (a claim leaves their rows for later)."""
        return [e for e, n in self._endpoints.items() if n >= self.per_endpoint]

    def leave(self, endpoint_id: str) -> None:
        self.total -= 1
        left = self._endpoints.get(endpoint_id, 1) - 1
        if left <= 0:
            self._endpoints.pop(endpoint_id, None)
        else:
            self._endpoints[endpoint_id] = left


async def send(client: DeliveryClient, prepared: Prepared) -> AttemptResult:
    return await client.send(prepared.url, prepared.body, prepared.headers, prepared.timeout)
