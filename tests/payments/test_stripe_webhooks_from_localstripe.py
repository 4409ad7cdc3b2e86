"""localstripe's own webhook delivery to a served Interlink: verified, stored and handed to the
payment it names. localstripe signs like Stripe, sends about a second after the change and does
not retry, so Interlink must accept it the first time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.localstripe import free_port, running_localstripe
from tests.fixtures.payments import Shop, add_integration, authorize
from tests.payments.test_stripe_localstripe import SECRET, card, sdk  # noqa: F401 - fixture

WEBHOOK_SECRET = "whsec_bG9jYWxzdHJpcGV3ZWJob29rcw=="


@pytest.fixture(scope="module")
def localstripe_url() -> Iterator[str]:
    with running_localstripe() as url:
        yield url


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The test's app on a real socket, so another process can post to it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_localstripe_webhook_is_accepted_and_processed_against_the_payment(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    localstripe_url: str,
    served: str,
    sdk: object,  # noqa: F811 - the Stripe SDK fixture
) -> None:
    key = await tenant_with_key(db, ["admin"])
    integration_id = await add_integration(
        client,
        key,
        "stripe",
        credentials={"secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET},
        settings={"api_base": localstripe_url},
        name="Stripe (localstripe)",
    )
    shop = Shop(key, integration_id)
    async with aiohttp.ClientSession() as http:
        registered = await http.post(
            f"{localstripe_url}/_config/webhooks/interlink",
            data={
                "url": f"{served}/v1/inbound/{integration_id}",
                "secret": WEBHOOK_SECRET,
                "events[]": "payment_intent.succeeded",
            },
        )
        assert registered.status == 200

    intent = await authorize(client, shop, payment_method=await card(sdk, "4242424242424242"))  # type: ignore[arg-type]
    captured = await client.post(
        f"/v1/payments/{intent['id']}/capture", json={}, headers=shop.write()
    )
    assert captured.status_code == 200, captured.text

    worker = Worker(db, settings)
    await worker.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            listed = await client.get(
                f"/v1/inbound-events?integration_id={integration_id}", headers=key.headers
            )
            events = [e for e in listed.json()["data"] if e["type"] == "payment_intent.succeeded"]
            if events and events[0]["status"] not in ("received", "pending"):
                break
            assert time.monotonic() < deadline, listed.json()
            await asyncio.sleep(0.1)
    finally:
        await worker.stop()

    [event] = events
    assert event["signature_valid"] is True
    assert event["status"] == "processed", event
    assert intent["id"] in (event["status_reason"] or "")
