"""``POST /v1/webhooks/{id}/test``: a signed ``webhook.test`` event, sent while the caller waits.

The attempt is made between two short transactions of its own (never inside the request's, which
on SQLite would hold the database's write lock across the network call).
"""

from __future__ import annotations

from datetime import timedelta

from interlink.auth.principal import Principal
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.kit.clock import now
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.models import Event, WebhookDelivery
from interlink.observability.context import current_request_id
from interlink.webhooks_out import repository
from interlink.webhooks_out.client import DeliveryClient
from interlink.webhooks_out.delivery import prepare, record, send
from interlink.webhooks_out.exceptions import EndpointDisabled, WebhookNotFound
from interlink.webhooks_out.schemas import TestResult
from interlink.webhooks_out.service import attempt_read, policy

TEST_EVENT = "webhook.test"


async def send_test(
    db: Database, settings: Settings, keyring: Keyring, principal: Principal, endpoint_id: str
) -> TestResult:
    at = now()
    async with db.session() as session:
        endpoint = await repository.get_endpoint(session, principal.tenant_id, endpoint_id)
        if endpoint is None:
            raise WebhookNotFound(f"No webhook endpoint {endpoint_id!r}.", param="id")
        if not endpoint.enabled:
            raise EndpointDisabled("The endpoint is disabled; enable it first.", param="id")
        event = Event(
            id=new_id("evt"),
            tenant_id=principal.tenant_id,
            type=TEST_EVENT,
            data={"object": {"endpoint": endpoint.id, "message": "A test event from Interlink."}},
            source="test",
            request_id=current_request_id(),
            created_at=at,
        )
        delivery = WebhookDelivery(
            id=new_id("msg"),
            tenant_id=principal.tenant_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=TEST_EVENT,
            status="pending",
            attempts=0,
            attempts_allowed=1,
            next_attempt_at=None,
            created_at=at,
            updated_at=at,
        )
        session.add(event)
        await session.flush()
        session.add(delivery)
        await session.flush()
        prepared = prepare(keyring, endpoint, delivery.id, event)
        await session.commit()
    client = DeliveryClient(policy(settings), max_connections=1)
    try:
        result = await send(client, prepared)
    finally:
        await client.close()
    async with db.session() as session:
        attempt = await record(
            session,
            delivery.id,
            result,
            attempted_at=at,
            trigger="test",
            disable_after=timedelta(days=settings.webhook_disable_after_days),
        )
        await session.commit()
    if attempt is None:
        # the endpoint, and its test delivery with it, was deleted while the request was out
        raise WebhookNotFound(
            f"Webhook endpoint {endpoint_id!r} was deleted during its test.", param="id"
        )
    return TestResult(
        delivery=delivery.id,
        event=event.id,
        succeeded=result.succeeded,
        attempt=attempt_read(attempt),
    )
