from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.registry import Retry
from interlink.jobs.worker import Worker
from interlink.models import Event, InboundEvent
from interlink.webhooks_in import handlers, payments_bridge, processing
from interlink.webhooks_in.handlers import Handled, InboundContext
from interlink.webhooks_in.payments_bridge import ProviderPaymentUpdate
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import deliver, events_of, integration_row
from tests.webhooks_in.test_receive import stripe_event, stripe_headers, stripe_integration

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"


async def run_once(db: Database, settings: Settings, event_id: str) -> Retry | None:
    async with db.session() as session:
        result = await processing.process(session, settings, event_id)
        await session.commit()
    return result


async def load(db: Database, event_id: str) -> InboundEvent:
    async with db.read_session() as session:
        event = await session.get(InboundEvent, event_id)
    assert event is not None
    return event


@pytest.fixture
def flaky_type() -> Iterator[str]:
    yield "test.flaky"
    handlers.replace("stripe", "test.flaky", None)


async def stored_stripe_event(
    client: httpx.AsyncClient, db: Database, event_type: str, event_id: str = "evt_p"
) -> str:
    integration_id = await stripe_integration(client, db)
    body = stripe_event(event_id, event_type)
    response = await deliver(client, integration_id, body, stripe_headers(body))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_handler_failing_twice_then_succeeding_is_retried_with_backoff(
    client: httpx.AsyncClient, db: Database, settings: Settings, flaky_type: str
) -> None:
    calls: list[int] = []

    async def flaky(ctx: InboundContext) -> Handled:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError(f"provider lookup failed ({len(calls)})")
        return Handled.processed()

    handlers.replace("stripe", flaky_type, flaky)
    tuned = settings.model_copy(update={"inbound_retry_base_seconds": 3.0})
    event_id = await stored_stripe_event(client, db, flaky_type)

    first = await run_once(db, tuned, event_id)
    assert first == Retry(
        after=timedelta(seconds=3), reason="RuntimeError: provider lookup failed (1)"
    )
    after_first = await load(db, event_id)
    assert (after_first.status, after_first.attempts) == ("retrying", 1)
    assert after_first.next_attempt_at is not None
    second = await run_once(db, tuned, event_id)
    assert second is not None
    assert second.after == timedelta(seconds=6)
    assert (await load(db, event_id)).last_error == "RuntimeError: provider lookup failed (2)"

    assert await run_once(db, tuned, event_id) is None

    done = await load(db, event_id)
    assert (done.status, done.attempts, len(calls)) == ("processed", 3, 3)
    assert done.processed_at is not None
    # a late duplicate job finds nothing to do
    assert await run_once(db, tuned, event_id) is None
    assert len(calls) == 3


async def test_poison_event_is_dead_lettered_with_attempts_and_last_error(
    client: httpx.AsyncClient, db: Database, settings: Settings, flaky_type: str
) -> None:
    async def poison(ctx: InboundContext) -> Handled:
        raise ValueError("cannot parse amount 'abc'")

    handlers.replace("stripe", flaky_type, poison)
    tuned = settings.model_copy(update={"inbound_max_attempts": 3})
    event_id = await stored_stripe_event(client, db, flaky_type)

    results = [await run_once(db, tuned, event_id) for _ in range(3)]

    assert [r is None for r in results] == [False, False, True]
    dead = await load(db, event_id)
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert dead.last_error == "ValueError: cannot parse amount 'abc'"
    assert dead.status_reason == "dead after 3 attempts"


async def test_handler_effects_of_a_failed_attempt_are_rolled_back(
    client: httpx.AsyncClient, db: Database, settings: Settings, flaky_type: str
) -> None:
    async def half_done(ctx: InboundContext) -> Handled:
        from interlink.events.publish import publish

        await publish(ctx.session, ctx.tenant_id, "test.half_done", {})
        raise RuntimeError("failed after writing")

    handlers.replace("stripe", flaky_type, half_done)
    event_id = await stored_stripe_event(client, db, flaky_type)

    await run_once(db, settings, event_id)

    async with db.read_session() as session:
        published = (
            await session.scalars(select(Event).where(Event.type == "test.half_done"))
        ).all()
    assert published == []
    assert (await load(db, event_id)).attempts == 1


async def test_unknown_event_type_is_stored_and_ignored_not_failed(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    event_id = await stored_stripe_event(client, db, "customer.created")

    assert await run_once(db, settings, event_id) is None

    event = await load(db, event_id)
    assert event.status == "ignored"
    assert event.status_reason == "no handler for event type 'customer.created'"
    assert event.attempts == 0


async def test_stripe_payment_event_is_normalised_and_handed_to_the_payments_bridge(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[ProviderPaymentUpdate] = []
    original = payments_bridge.apply

    async def spy(
        session: object, tenant_id: str, integration_id: str, update: ProviderPaymentUpdate
    ) -> payments_bridge.BridgeResult:
        seen.append(update)
        return await original(session, tenant_id, integration_id, update)  # type: ignore[arg-type]

    monkeypatch.setattr(payments_bridge, "apply", spy)
    event_id = await stored_stripe_event(client, db, "payment_intent.succeeded", "evt_pi")

    await run_once(db, settings, event_id)

    assert seen == [
        ProviderPaymentUpdate(
            provider="stripe",
            provider_reference="pi_1",
            status="captured",
            amount=2500,
            currency="eur",
            provider_event_id="evt_pi",
        )
    ]
    event = await load(db, event_id)
    assert (event.status, event.status_reason) == ("ignored", "no matching intent")


def test_payment_handlers_cover_the_stripe_and_paypal_events() -> None:
    for event_type in (
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
    ):
        assert handlers.find("stripe", event_type) is not None
    for event_type in (
        "PAYMENT.AUTHORIZATION.CREATED",
        "PAYMENT.AUTHORIZATION.VOIDED",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.DENIED",
        "PAYMENT.CAPTURE.REFUNDED",
    ):
        assert handlers.find("paypal", event_type) is not None


def test_paypal_refund_is_normalised_to_the_refunded_capture() -> None:
    from interlink.webhooks_in.payment_handlers import paypal_update, stripe_refund_update

    payload = {
        "id": "WH-7",
        "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": {
            "id": "REF-1",
            "amount": {"currency_code": "JPY", "value": "1500"},
            "links": [
                {"rel": "self", "href": "https://api.paypal.com/v2/payments/refunds/REF-1"},
                {"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/CAP-9"},
            ],
        },
    }
    update = paypal_update(payload, "refunded")
    assert (update.provider_reference, update.related_reference) == ("CAP-9", "REF-1")
    assert (update.amount_refunded, update.currency) == (1500, "jpy")
    partial = stripe_refund_update(
        {
            "id": "evt_r",
            "data": {
                "object": {
                    "id": "ch_1",
                    "payment_intent": "pi_1",
                    "amount": 1000,
                    "amount_refunded": 400,
                    "currency": "USD",
                }
            },
        }
    )
    assert (partial.status, partial.provider_reference, partial.amount_refunded) == (
        "partially_refunded",
        "pi_1",
        400,
    )


async def test_malformed_payment_event_is_dead_at_once(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    integration_id = await stripe_integration(client, db)
    body = json.dumps({"id": "evt_bad", "type": "payment_intent.succeeded", "data": {}}).encode()
    response = await deliver(client, integration_id, body, stripe_headers(body))

    assert await run_once(db, settings, response.json()["id"]) is None

    event = await load(db, response.json()["id"])
    assert (event.status, event.attempts, event.status_reason) == ("dead", 1, "malformed event")
    assert event.last_error == "MalformedEvent: data.object.id is missing"


async def test_easypost_tracker_update_publishes_one_event_even_when_replayed(
    client: httpx.AsyncClient, db: Database, settings: Settings, app: FastAPI
) -> None:
    vector = json.loads((VECTORS / "easypost-webhook.json").read_text())
    body = (VECTORS / "easypost-event-body.bin").read_bytes()
    admin = await tenant_with_key(db, ["inbound:write"])
    integration_id = await integration_row(
        app, admin.tenant_id, "easypost", {"api_key": "EZTKabc", "webhook_secret": vector["secret"]}
    )
    response = await deliver(client, integration_id, body, {vector["header"]: vector["expected"]})
    assert response.status_code == 200, response.text
    event_id = response.json()["id"]

    await run_once(db, settings, event_id)
    replay = await client.post(f"/v1/inbound-events/{event_id}/replay", headers=admin.headers)
    assert replay.status_code == 200
    await run_once(db, settings, event_id)

    async with db.read_session() as session:
        published = (
            await session.scalars(select(Event).where(Event.tenant_id == admin.tenant_id))
        ).all()
    assert [e.type for e in published] == ["shipment.tracking_updated"]
    assert published[0].data["tracking_code"] == json.loads(body)["result"]["tracking_code"]
    event = await load(db, event_id)
    assert (event.status, event.replays) == ("processed", 1)


@pytest.fixture
async def worker(db: Database, settings: Settings) -> AsyncIterator[Worker]:
    running = Worker(db, settings)
    await running.start()
    yield running
    await running.stop()


async def test_worker_processes_a_received_event_within_moments(
    client: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event("evt_worker", "payment_intent.payment_failed")
    response = await deliver(client, integration_id, body, stripe_headers(body))
    event_id = response.json()["id"]

    deadline = asyncio.get_running_loop().time() + 10
    event = await load(db, event_id)
    while event.status == "received" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        event = await load(db, event_id)

    assert (event.status, event.status_reason, event.attempts) == (
        "ignored",
        "no matching intent",
        1,
    )
    assert [e.id for e in await events_of(db, integration_id)] == [event_id]


async def test_prune_deletes_settled_events_past_retention_and_keeps_dead_ones(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    from sqlalchemy import update

    from interlink.jobs.registry import JobContext
    from interlink.kit.clock import now
    from interlink.webhooks_in.tasks import prune_inbound_events

    integration_id = await stripe_integration(client, db)
    ids = []
    for n in range(3):
        body = stripe_event(f"evt_old_{n}", "customer.created")
        ids.append((await deliver(client, integration_id, body, stripe_headers(body))).json()["id"])
    old = now() - timedelta(days=settings.inbound_retention_days + 1)
    async with db.session() as session:
        for event_id, status in zip(ids, ("processed", "dead", "received"), strict=True):
            await session.execute(
                update(InboundEvent)
                .where(InboundEvent.id == event_id)
                .values(status=status, received_at=old)
            )
        await session.commit()

    async with db.session() as session:
        ctx = JobContext("job_x", "inbound.prune", 1, 3, db, settings, session)
        ctx.log = structlog.get_logger()
        await prune_inbound_events(ctx)
        await session.commit()

    assert [e.id for e in await events_of(db, integration_id)] == ids[1:]
