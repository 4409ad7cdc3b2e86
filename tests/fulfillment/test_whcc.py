"""The WHCC adapter against a fake of WHCC's Order Submit API: tokens, catalog, import and
submit, permanent rejections, lost responses, the callback handshake and signed status webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from interlink.kit import clock
from interlink.models import InboundEvent, LabIntegrationState
from tests.fixtures.fake_whcc import FakeWhcc
from tests.fixtures.servers import LocalServer
from tests.fixtures.signers import t_v1_header
from tests.fulfillment.conftest import SHIP_TO, Env, eventually

CREDENTIALS = {"consumer_key": "whcc-key", "consumer_secret": "whcc-secret"}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeWhcc, str]]:
    whcc = FakeWhcc()
    async with LocalServer(whcc.app()) as server:
        yield whcc, server.base


async def whcc_lab(env: Env, key: Any, base: str) -> str:
    return await env.integration(key, "whcc", CREDENTIALS, {"api_base": base})


def whcc_order(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": "ord_w1",
        "items": [
            {
                "lab_product_id": "2",
                "lab_node_id": "10000",
                "lab_attributes": ["1"],
                "quantity": 1,
                "image_url": url,
            }
        ],
        "ship_to": SHIP_TO,
        "lab_attributes": ["96"],
        **extra,
    }


async def test_catalog_sync_caches_products_and_shows_changes(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)

    first = await env.client.get(f"/v1/integrations/{lab}/products", headers=key.headers)
    whcc.catalog = json.loads(json.dumps(whcc.catalog))
    products = whcc.catalog["Categories"][0]["ProductList"]
    products[0]["Name"] = "4x6 Print (new paper)"
    products.pop(1)
    second = await env.client.get(f"/v1/integrations/{lab}/products", headers=key.headers)
    cached = await env.client.get(
        f"/v1/integrations/{lab}/products?cached=true", headers=key.headers
    )

    assert first.status_code == 200, first.text
    assert first.json()["changes"] == {"added": ["2", "3"], "changed": [], "removed": []}
    node = first.json()["data"][0]["nodes"][0]
    assert (node["id"], node["width"], node["height"]) == ("10000", 4, 6)
    assert second.json()["changes"] == {"added": [], "changed": ["2"], "removed": ["3"]}
    assert second.json()["previous_sync_at"] is not None
    assert [(p["id"], p["removed"]) for p in cached.json()["data"]] == [("2", False), ("3", True)]
    assert whcc.token_requests == 1


async def test_token_is_renewed_before_expiry_and_after_the_lab_expires_it(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url = f"/v1/integrations/{lab}/products"

    await env.client.get(url, headers=key.headers)
    await env.client.get(url, headers=key.headers)
    reused = whcc.token_requests
    later = datetime.now(UTC) + timedelta(minutes=59)
    clock.set_clock(lambda: later)
    try:
        near_expiry = await env.client.get(url, headers=key.headers)
    finally:
        clock.set_clock(None)
    renewed_early = whcc.token_requests
    whcc.expire_all_tokens()
    after_revocation = await env.client.get(url, headers=key.headers)

    assert reused == 1
    assert near_expiry.status_code == 200
    assert renewed_early == 2
    assert after_revocation.status_code == 200, after_revocation.text
    assert whcc.token_requests == 3


async def test_wrong_consumer_key_is_an_auth_failure_needing_new_credentials(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    _, base = fake
    key = await env.tenant()
    lab = await env.integration(
        key, "whcc", {"consumer_key": "nope", "consumer_secret": "x"}, {"api_base": base}
    )

    response = await env.client.get(f"/v1/integrations/{lab}/products", headers=key.headers)

    assert response.status_code in (401, 502), response.text
    assert "credentials" in response.json()["error"]["message"]


async def test_order_is_imported_then_submitted_once(env: Env, fake: tuple[FakeWhcc, str]) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url, md5 = env.image("w.jpg", b"whcc-image")
    created = await env.order(key, {**whcc_order(url), "integration_id": lab})

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "submitted")

    assert list(whcc.imports) == whcc.submitted == [order["lab_order_id"]]
    imported = whcc.imports[order["lab_order_id"]]
    line = imported["Orders"][0]
    asset = line["OrderItems"][0]["ItemAssets"][0]
    assert (asset["AssetPath"], asset["ImageHash"], asset["ProductNodeID"]) == (url, md5, 10000)
    assert line["OrderItems"][0]["ProductUID"] == 2
    assert line["OrderAttributes"] == [{"AttributeUID": 96}]
    assert line["Reference"] == order["id"]
    assert line["ShipToAddress"]["Zip"] == "78701"
    assert order["totals"] == {"SubTotal": "12.50", "Tax": "1.00", "Total": "13.50"}


async def test_hash_mismatch_at_the_lab_moves_the_order_to_needs_attention(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url, _ = env.image("changing.jpg", b"v")
    env.images.changing.add("changing.jpg")  # WHCC downloads other bytes than we hashed
    created = await env.order(key, {**whcc_order(url), "integration_id": lab})

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "needs_attention")

    assert order["error_code"] == "400.01"
    assert "Image hash mismatch" in order["last_error"]
    assert whcc.submitted == []
    assert "fulfillment.rejected" in await env.event_types(key.tenant_id)


async def test_already_submitted_answer_after_a_lost_response_counts_as_submitted(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    whcc.lose_submit_responses = 1
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url, _ = env.image("w.jpg", b"whcc-image")
    created = await env.order(key, {**whcc_order(url), "integration_id": lab})

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "submitted")

    assert whcc.submit_attempts == 2  # the retry met 412.04
    assert len(whcc.imports) == 1
    assert whcc.submitted == [order["lab_order_id"]]
    assert order["timeline"][1]["data"]["already_submitted"] is True


async def test_callback_registration_completes_the_verifier_handshake(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    inbound = f"https://interlink.example/v1/inbound/{lab}"
    unexpected = await env.client.post(
        f"/v1/inbound/{lab}", data={"verifier": "forged"}, headers={}
    )

    registered = await env.client.post(
        f"/v1/integrations/{lab}/lab-callback", json={"url": inbound}, headers=key.headers
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "pending"
    assert whcc.callback_uri == inbound
    assert whcc.verifier is not None
    # WHCC posts the verifier to the URL (form-encoded, unsigned)
    handshake = await env.client.post(f"/v1/inbound/{lab}", data={"verifier": whcc.verifier})
    assert handshake.status_code == 200, handshake.text
    async with env.worker():
        verified = await eventually(lambda: _callback_status(env, lab, "verified"))

    assert unexpected.status_code == 400
    assert verified
    assert whcc.verified is True


async def _callback_status(env: Env, integration_id: str, wanted: str) -> bool:
    async with env.db.read_session() as session:
        state = await session.get(LabIntegrationState, integration_id)
    return state is not None and state.callback_status == wanted


def signed(body: dict[str, Any], *, age: int = 0) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    header = t_v1_header(CREDENTIALS["consumer_secret"], raw, int(time.time()) - age)
    return raw, {"WHCC-Signature": header, "Content-Type": "application/json"}


async def test_signed_status_webhooks_move_the_order_and_bad_ones_are_refused(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    _, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url, _ = env.image("w.jpg", b"whcc-image")
    created = await env.order(key, {**whcc_order(url), "integration_id": lab})
    fid = created.json()["id"]

    async with env.worker():
        submitted = await env.wait_status(key, fid, "submitted")
        confirmation = submitted["lab_order_id"]
        processed = {
            "Event": "Processed",
            "Status": "Accepted",
            "Errors": [],
            "ConfirmationId": confirmation,
            "OrderNumber": 12345,
            "Reference": fid,
            "SequenceNumber": 1,
        }
        body, headers = signed(processed)
        good = await env.client.post(f"/v1/inbound/{lab}", content=body, headers=headers)
        again = await env.client.post(f"/v1/inbound/{lab}", content=body, headers=headers)
        tampered = await env.client.post(
            f"/v1/inbound/{lab}", content=body.replace(b"Accepted", b"Rejected"), headers=headers
        )
        stale_body, stale_headers = signed({**processed, "SequenceNumber": 2}, age=900)
        stale = await env.client.post(
            f"/v1/inbound/{lab}", content=stale_body, headers=stale_headers
        )
        await env.wait_status(key, fid, "accepted")
        shipped = {
            "Event": "Shipped",
            "ConfirmationId": confirmation,
            "OrderNumber": 12345,
            "Reference": fid,
            "ShippingInfo": [
                {
                    "Carrier": "UPS",
                    "ShipDate": "2026-11-22T10:00:00Z",
                    "TrackingNumber": "1Z999",
                    "TrackingUrl": "https://ups.example/1Z999",
                }
            ],
        }
        ship_body, ship_headers = signed(shipped)
        assert (
            await env.client.post(f"/v1/inbound/{lab}", content=ship_body, headers=ship_headers)
        ).status_code == 200
        order = await env.wait_status(key, fid, "shipped")

    assert good.status_code == 200, good.text
    assert again.json()["duplicate"] is True
    assert tampered.status_code == 400
    assert stale.status_code == 400
    assert order["tracking"] == [
        {
            "carrier": "UPS",
            "number": "1Z999",
            "url": "https://ups.example/1Z999",
            "shipped_at": "2026-11-22T10:00:00Z",
        }
    ]
    assert await env.event_types(key.tenant_id) == [
        "fulfillment.submitted",
        "fulfillment.accepted",
        "fulfillment.shipped",
    ]
    async with env.db.read_session() as session:
        reasons = (
            await session.scalars(
                select(InboundEvent.status).where(InboundEvent.integration_id == lab)
            )
        ).all()
    assert sorted(reasons) == ["processed", "processed", "rejected", "rejected"]


async def test_order_cancelled_while_the_lab_takes_it_is_not_lost(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    whcc.submit_delay = 0.5
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    url, _ = env.image("w.jpg", b"whcc-image")
    created = await env.order(key, {**whcc_order(url), "integration_id": lab})
    fid = created.json()["id"]

    async with env.worker():
        assert await eventually(lambda: _submit_started(whcc))
        cancelled = await env.client.post(
            f"/v1/fulfillment/orders/{fid}/cancel", headers=key.headers
        )
        assert cancelled.json()["status"] == "cancelled"
        order = await env.wait_status(key, fid, "submitted")

    # WHCC cannot cancel through its API: the order is back to submitted, with the reason
    assert order["lab_order_id"] == whcc.submitted[0]
    assert "refused the cancellation" in order["last_error"]
    assert [t["status"] for t in order["timeline"]] == [
        "pending",
        "cancelled",
        "cancelling",
        "submitted",
    ]


async def _submit_started(whcc: FakeWhcc) -> bool:
    return whcc.submit_attempts > 0


async def test_image_behind_a_redirect_is_followed_and_hashed(
    env: Env, fake: tuple[FakeWhcc, str]
) -> None:
    whcc, base = fake
    key = await env.tenant()
    lab = await whcc_lab(env, key, base)
    _, md5 = env.image("r.jpg", b"redirected")
    moved = f"{env.image_base}/moved/r.jpg"
    created = await env.order(key, {**whcc_order(moved), "integration_id": lab})

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "submitted")

    asset = whcc.imports[order["lab_order_id"]]["Orders"][0]["OrderItems"][0]["ItemAssets"][0]
    assert asset["ImageHash"] == md5
