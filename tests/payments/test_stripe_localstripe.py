"""The Stripe adapter end to end, through the official SDK, against localstripe in its own
process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stripe

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.localstripe import free_port, running_localstripe
from tests.fixtures.payments import (
    Shop,
    add_integration,
    authorize,
    quote,
    run_sync_jobs,
    wait_for,
)

pytestmark = pytest.mark.slow
SECRET = "sk_test_localstripe4242"


@pytest.fixture(scope="module")
def localstripe_url() -> Iterator[str]:
    with running_localstripe() as url:
        yield url


@pytest.fixture
async def sdk(localstripe_url: str) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.AIOHTTPClient()
    yield stripe.StripeClient(
        SECRET, base_addresses={"api": localstripe_url}, max_network_retries=0, http_client=http
    )
    await http.close_async()


async def card(sdk: stripe.StripeClient, number: str) -> str:
    """What Stripe.js does in the customer's browser: card data never reaches Interlink."""
    method = await sdk.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return str(method.id)


async def stripe_shop(client: httpx.AsyncClient, db: Database, url: str) -> Shop:
    key = await tenant_with_key(db, ["admin"])
    integration_id = await add_integration(
        client,
        key,
        "stripe",
        credentials={"secret_key": SECRET},
        settings={"api_base": url},
        name="Stripe (localstripe)",
    )
    return Shop(key, integration_id)


async def test_stripe_lifecycle_against_localstripe(
    client: httpx.AsyncClient, db: Database, localstripe_url: str, sdk: stripe.StripeClient
) -> None:
    s = await stripe_shop(client, db, localstripe_url)
    intent = await authorize(client, s, payment_method=await card(sdk, "4242424242424242"))
    assert intent["status"] == "authorized", intent
    assert intent["connection_code"] == "stripe"
    reference = intent["provider_reference"]
    assert reference.startswith("pi_")

    capture = await client.post(
        f"/v1/payments/{intent['id']}/capture", json={"amount": 3000}, headers=s.write()
    )
    assert capture.status_code == 200, capture.text
    assert capture.json()["status"] == "captured"
    assert capture.json()["amount_captured"] == 3000
    for amount in (1000, 500):
        refund = await client.post(
            f"/v1/payments/{intent['id']}/refund",
            json={"amount": amount, "reason": "print arrived damaged"},
            headers=s.write(),
        )
        assert refund.status_code == 200, refund.text
    assert refund.json()["status"] == "partially_refunded"
    assert refund.json()["amount_refunded"] == 1500

    remote = await sdk.v1.payment_intents.retrieve_async(reference)
    assert remote.status == "succeeded"
    refunds = await sdk.v1.refunds.list_async({"payment_intent": reference})
    ours = [r for r in refunds.data if r.metadata.to_dict().get("interlink_operation")]
    assert sorted(r.amount for r in ours) == [500, 1000]

    other = await authorize(
        client, s, order_id="ord_2", payment_method=await card(sdk, "4242424242424242")
    )
    void = await client.post(f"/v1/payments/{other['id']}/void", json={}, headers=s.write())
    assert void.status_code == 200, void.text
    assert void.json()["status"] == "voided"
    assert (await sdk.v1.payment_intents.retrieve_async(other["provider_reference"])).status == (
        "canceled"
    )

    run = await client.post("/v1/reconciliation/runs", json={}, headers=s.write())
    assert run.status_code == 201, run.text
    assert run.json()["checked"] == 2
    assert run.json()["findings"] == []


async def test_stripe_declined_card_is_a_402_and_a_failed_intent(
    client: httpx.AsyncClient, db: Database, localstripe_url: str, sdk: stripe.StripeClient
) -> None:
    s = await stripe_shop(client, db, localstripe_url)

    declined = await authorize(
        client, s, payment_method=await card(sdk, "4000000000000341"), expect=402
    )

    assert declined["error"]["code"] == "card_declined"
    assert declined["error"]["type"] == "provider"
    ledger = (await client.get("/v1/orders/ord_1/payments", headers=s.headers)).json()
    assert ledger["data"][0]["status"] == "failed"
    [attempt] = ledger["data"][0]["transactions"]
    assert attempt["status"] == "failed"
    assert attempt["error_code"] == "card_declined"
    logs = await client.get(
        "/v1/integration-logs", params={"integration": s.integration_id}, headers=s.headers
    )
    assert logs.status_code == 200
    assert [e["operation"] for e in logs.json()["data"]] == ["authorize"]
    assert logs.json()["data"][0]["status_code"] == 402
    assert SECRET not in logs.text


async def test_stripe_setup_intent_saves_a_card_by_token(
    client: httpx.AsyncClient, db: Database, localstripe_url: str, sdk: stripe.StripeClient
) -> None:
    s = await stripe_shop(client, db, localstripe_url)
    method = await card(sdk, "4242424242424242")

    response = await client.post(
        "/v1/payments/setup-intents", json={"payment_method": method}, headers=s.write()
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["payment_method"] == method
    assert body["provider_reference"].startswith("seti_")


async def test_stripe_capture_is_single_so_partial_non_final_is_refused(
    client: httpx.AsyncClient, db: Database, localstripe_url: str, sdk: stripe.StripeClient
) -> None:
    s = await stripe_shop(client, db, localstripe_url)
    snap = await quote(client, s)
    intent = await authorize(
        client, s, snapshot=snap, payment_method=await card(sdk, "4242424242424242")
    )

    response = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={"amount": 100, "final": False},
        headers=s.write(),
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "final"


async def test_stripe_card_needing_3ds_waits_then_the_sync_sees_it_authorized(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    localstripe_url: str,
    sdk: stripe.StripeClient,
) -> None:
    s = await stripe_shop(client, db, localstripe_url)

    intent = await authorize(
        client, s, payment_method=await card(sdk, "4000002500003155"), expect=202
    )

    assert intent["status"] == "requires_action"
    assert intent["next_action"]
    reference = intent["provider_reference"]
    remote = await sdk.v1.payment_intents.retrieve_async(reference)
    async with httpx.AsyncClient() as browser:  # the customer completes 3-D Secure
        done = await browser.post(
            f"{localstripe_url}/v1/payment_intents/{reference}/_authenticate",
            data={"client_secret": remote.client_secret, "success": "true"},
            headers={"Authorization": f"Bearer {SECRET}"},
        )
        assert done.status_code == 200, done.text
    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "authorized")
    finally:
        await worker.stop()
    assert settled["next_action"] is None
    history = (await client.get("/v1/orders/ord_1/history", headers=s.headers)).json()["data"]
    assert [h["to_status"] for h in history] == ["processing", "requires_action", "authorized"]
    assert history[-1]["source"] == "sync"


async def test_stripe_unreachable_is_an_unknown_outcome_left_pending(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await stripe_shop(client, db, f"http://127.0.0.1:{free_port()}")

    intent = await authorize(client, s, payment_method="pm_card_visa", expect=202)

    assert intent["status"] == "processing"
    [pending] = intent["pending_operations"]
    assert pending["operation"] == "authorize"
    assert pending["status"] == "pending"
    assert pending["attempts"] == 1
