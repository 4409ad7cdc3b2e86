"""The whole flow against the sandbox lab: API orders, the timer-driven lab, events, mappings,
the manual fallback, and the automatic pipeline from order events (exactly once)."""

from __future__ import annotations

from typing import Any

from interlink.events.publish import publish
from tests.fulfillment.conftest import SHIP_TO, Env, eventually

FAST = {"accept_after_seconds": 0, "ship_after_seconds": 1, "poll_interval_seconds": 0.1}


def order_body(image_url: str, md5: str | None = None, **item: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"quantity": 2, "image_url": image_url, **item}
    if md5 is not None:
        line["image_md5"] = md5
    if "product_id" not in item and "lab_product_id" not in item:
        line["lab_product_id"] = "sbx_print_4x6"
    return {"order_id": "ord_1", "items": [line], "ship_to": SHIP_TO}


async def test_sandbox_order_is_submitted_accepted_and_shipped_on_a_timer(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, md5 = env.image("a.jpg", b"jpeg-bytes")

    created = await env.order(key, {**order_body(url, md5), "integration_id": lab})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    async with env.worker():
        shipped = await env.wait_status(key, created.json()["id"], "shipped")

    assert shipped["lab_order_id"].startswith("sbxlab_")
    assert shipped["tracking"][0]["carrier"] == "SandboxPost"
    assert [t["status"] for t in shipped["timeline"]] == [
        "pending",
        "submitted",
        "accepted",
        "shipped",
    ]
    assert await env.event_types(key.tenant_id) == [
        "fulfillment.submitted",
        "fulfillment.accepted",
        "fulfillment.shipped",
    ]


async def test_product_without_mapping_is_refused_naming_the_item(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, _ = env.image("a.jpg", b"x")

    response = await env.order(
        key, {**order_body(url, product_id="prod_8x10"), "integration_id": lab}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "items.0.product_id"
    assert "product-mappings" in error["message"]


async def test_mapped_product_and_variant_resolve_to_the_lab_product(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, _ = env.image("a.jpg", b"x")
    catalog = await env.client.get(f"/v1/integrations/{lab}/products", headers=key.headers)
    assert catalog.status_code == 200, catalog.text
    assert catalog.json()["changes"]["added"] == [
        "sbx_canvas_16x20",
        "sbx_print_4x6",
        "sbx_print_8x10",
    ]

    wrong = await env.client.post(
        "/v1/fulfillment/product-mappings",
        json={"integration_id": lab, "product_id": "prod_8x10", "lab_product_id": "sbx_nope"},
        headers=key.headers,
    )
    bad_attribute = await env.client.post(
        "/v1/fulfillment/product-mappings",
        json={
            "integration_id": lab,
            "product_id": "prod_8x10",
            "lab_product_id": "sbx_print_8x10",
            "lab_attributes": ["velvet"],
        },
        headers=key.headers,
    )
    mapped = await env.client.post(
        "/v1/fulfillment/product-mappings",
        json={
            "integration_id": lab,
            "product_id": "prod_8x10",
            "variant_id": "matte",
            "lab_product_id": "sbx_print_8x10",
            "lab_attributes": ["matte"],
            "lab_node_id": "1",
        },
        headers=key.headers,
    )
    created = await env.order(
        key,
        {**order_body(url, product_id="prod_8x10", variant_id="matte"), "integration_id": lab},
    )

    assert wrong.status_code == 422
    assert wrong.json()["error"]["param"] == "lab_product_id"
    assert bad_attribute.status_code == 422
    assert "velvet" in bad_attribute.json()["error"]["message"]
    assert mapped.status_code == 200, mapped.text
    assert created.status_code == 201, created.text
    item = created.json()["items"][0]
    assert (item["lab_product_id"], item["lab_attributes"], item["lab_node_id"]) == (
        "sbx_print_8x10",
        ["matte"],
        "1",
    )
    listed = await env.client.get("/v1/fulfillment/product-mappings", headers=key.headers)
    assert [m["variant_id"] for m in listed.json()["data"]] == ["matte"]


async def test_same_order_for_the_same_lab_is_created_once(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, _ = env.image("a.jpg", b"x")
    body = {**order_body(url), "integration_id": lab}

    first = await env.order(key, body)
    second = await env.order(key, body)

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "fulfillment_order_exists"
    assert await env.count_orders(key.tenant_id) == 1


async def test_image_differing_from_its_declared_md5_needs_attention(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, _ = env.image("a.jpg", b"x")
    created = await env.order(key, {**order_body(url, "0" * 32), "integration_id": lab})

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "needs_attention")

    assert order["error_code"] == "image_hash_mismatch"
    assert "MD5" in order["last_error"]
    assert await env.event_types(key.tenant_id) == ["fulfillment.rejected"]


async def test_lab_business_rule_rejection_needs_attention_and_can_be_resubmitted(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    url, _ = env.image("a.jpg", b"x")
    created = await env.order(
        key, {**order_body(url, lab_product_id="sbx_reject"), "integration_id": lab}
    )
    fid = created.json()["id"]

    async with env.worker():
        order = await env.wait_status(key, fid, "needs_attention")
        early = await env.client.post(f"/v1/fulfillment/orders/{fid}/cancel", headers=key.headers)
        resubmitted = await env.client.post(
            f"/v1/fulfillment/orders/{fid}/resubmit", headers=key.headers
        )

    assert order["error_code"] == "412.02"
    assert "Business rule" in order["last_error"]
    assert early.status_code == 200
    assert early.json()["status"] == "cancelled"
    assert resubmitted.status_code == 200, resubmitted.text
    assert resubmitted.json()["submissions"] == 2


async def test_shipped_order_cannot_be_cancelled_or_resubmitted(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, {**FAST, "ship_after_seconds": 0})
    url, _ = env.image("a.jpg", b"x")
    created = await env.order(key, {**order_body(url), "integration_id": lab})
    fid = created.json()["id"]
    async with env.worker():
        await env.wait_status(key, fid, "shipped")

    cancel = await env.client.post(f"/v1/fulfillment/orders/{fid}/cancel", headers=key.headers)
    resubmit = await env.client.post(f"/v1/fulfillment/orders/{fid}/resubmit", headers=key.headers)

    assert cancel.status_code == 409
    assert resubmit.status_code == 409


def order_event(order_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "object": {
            "id": order_id,
            "status": "pending",
            "items": [
                {"id": "li_1", "lab_product_id": "sbx_print_4x6", "quantity": 1, "image_url": url},
                {"id": "li_2", "product_id": "gift_card", "quantity": 1},
            ],
            "ship_to": SHIP_TO,
            **extra,
        }
    }


async def test_duplicated_order_created_event_submits_the_order_once(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    await env.make_default(key, lab)
    url, _ = env.image("a.jpg", b"x")
    data = order_event("ord_42", url)

    async with env.db.session() as session:
        first = await publish(session, key.tenant_id, "order.created", data, external_id="p-1")
        again = await publish(session, key.tenant_id, "order.created", data, external_id="p-1")
        # the platform re-sent the order under another event id: still one lab order
        other = await publish(session, key.tenant_id, "order.created", data, external_id="p-2")
        await session.commit()
    assert again.id == first.id
    assert other.id != first.id

    async with env.worker():
        listed = await eventually(lambda: _orders_in(env, key, "submitted", "accepted", "shipped"))
        assert listed
        await eventually(lambda: _jobs_done(env), within=5)

    assert await env.count_orders(key.tenant_id) == 1
    assert await env.count_jobs("fulfillment.order_event") == 2
    assert await env.count_jobs("fulfillment.submit") == 1
    types = await env.event_types(key.tenant_id)
    assert types.count("fulfillment.submitted") == 1
    order = listed[0]
    assert order["source"] == "event"
    assert [i["id"] for i in order["items"]] == ["li_1"]


async def _orders_in(env: Env, key: Any, *statuses: str) -> list[dict[str, Any]]:
    response = await env.client.get("/v1/fulfillment/orders", headers=key.headers)
    return [o for o in response.json()["data"] if o["status"] in statuses]


async def _jobs_done(env: Env) -> bool:
    from sqlalchemy import func, select

    from interlink.models import Job

    async with env.db.read_session() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.name == "fulfillment.order_event", Job.state != "done")
        )
    return waiting == 0


async def test_lab_set_to_submit_on_payment_ignores_order_created(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, {**FAST, "submit_on": "order.paid"})
    await env.make_default(key, lab)
    url, _ = env.image("a.jpg", b"x")

    async with env.db.session() as session:
        await publish(session, key.tenant_id, "order.created", order_event("ord_7", url))
        await session.commit()
    async with env.worker():
        await eventually(lambda: _jobs_done(env), within=5)
        assert await env.count_orders(key.tenant_id) == 0
        async with env.db.session() as session:
            await publish(session, key.tenant_id, "order.paid", order_event("ord_7", url))
            await session.commit()
        listed = await eventually(lambda: _orders_in(env, key, "submitted", "accepted", "shipped"))

    assert len(listed) == 1
    assert listed[0]["order_id"] == "ord_7"


async def test_event_order_without_mapping_waits_for_a_person(env: Env) -> None:
    key = await env.tenant()
    lab = await env.integration(key, "sandbox_lab", {}, FAST)
    await env.make_default(key, lab)
    url, _ = env.image("a.jpg", b"x")
    data = order_event("ord_9", url)
    data["object"]["items"][0] = {"product_id": "prod_x", "quantity": 1, "image_url": url}

    async with env.db.session() as session:
        await publish(session, key.tenant_id, "order.created", data)
        await session.commit()
    async with env.worker():
        listed = await eventually(lambda: _orders_in(env, key, "needs_attention"))

    assert listed[0]["error_code"] == "invalid_order"
    assert "items.0.product_id" in listed[0]["last_error"]
