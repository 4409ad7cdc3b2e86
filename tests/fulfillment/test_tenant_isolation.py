"""Every fulfillment route is scoped to the key's tenant, its environment and its scopes."""

from __future__ import annotations

from tests.fulfillment.conftest import SHIP_TO, Env


async def test_another_tenants_orders_mappings_and_labs_are_not_found(env: Env) -> None:
    owner = await env.tenant()
    other = await env.tenant()
    lab = await env.integration(owner, "sandbox_lab", {}, {})
    url, _ = env.image("a.jpg", b"x")
    created = await env.order(
        owner,
        {
            "order_id": "ord_1",
            "integration_id": lab,
            "items": [{"lab_product_id": "sbx_print_4x6", "quantity": 1, "image_url": url}],
            "ship_to": SHIP_TO,
        },
    )
    fid = created.json()["id"]
    mapping = {"integration_id": lab, "product_id": "p", "lab_product_id": "sbx_print_4x6"}
    assert (
        await env.client.post(
            "/v1/fulfillment/product-mappings", json=mapping, headers=owner.headers
        )
    ).status_code == 200
    h = other.headers

    get = await env.client.get(f"/v1/fulfillment/orders/{fid}", headers=h)
    cancel = await env.client.post(f"/v1/fulfillment/orders/{fid}/cancel", headers=h)
    resubmit = await env.client.post(f"/v1/fulfillment/orders/{fid}/resubmit", headers=h)
    listed = await env.client.get("/v1/fulfillment/orders", headers=h)
    order_on_their_lab = await env.order(
        other,
        {
            "order_id": "ord_1",
            "integration_id": lab,
            "items": [{"lab_product_id": "sbx_print_4x6", "quantity": 1, "image_url": url}],
            "ship_to": SHIP_TO,
        },
    )
    map_their_lab = await env.client.post(
        "/v1/fulfillment/product-mappings", json=mapping, headers=h
    )
    mappings = await env.client.get("/v1/fulfillment/product-mappings", headers=h)
    products = await env.client.get(f"/v1/integrations/{lab}/products", headers=h)
    callback = await env.client.post(
        f"/v1/integrations/{lab}/lab-callback", json={"url": "https://x.example/cb"}, headers=h
    )

    for response in (get, cancel, resubmit, order_on_their_lab, map_their_lab, products, callback):
        assert response.status_code == 404, response.text
    assert listed.json()["data"] == []
    assert mappings.json()["data"] == []
    assert (await env.get(owner, fid))["status"] == "pending"


async def test_keys_without_fulfillment_scopes_are_refused(env: Env) -> None:
    owner = await env.tenant()
    reader = await env.tenant(["fulfillment:read"])
    outsider = await env.tenant(["integrations:read"])
    body = {
        "order_id": "o",
        "items": [{"lab_product_id": "x", "quantity": 1, "image_url": "https://i.example/a.jpg"}],
        "ship_to": SHIP_TO,
    }

    write_with_read = await env.order(reader, body)
    read_without = await env.client.get("/v1/fulfillment/orders", headers=outsider.headers)
    read_with = await env.client.get("/v1/fulfillment/orders", headers=reader.headers)

    assert write_with_read.status_code == 403
    assert write_with_read.json()["error"]["param"] == "fulfillment:write"
    assert read_without.status_code == 403
    assert read_with.status_code == 200
    assert owner.tenant_id != reader.tenant_id


async def test_live_key_cannot_use_a_sandbox_lab(env: Env) -> None:
    owner = await env.tenant()
    lab = await env.integration(owner, "sandbox_lab", {}, {})
    from tests.fixtures.factories import tenant_with_key

    live = await tenant_with_key(
        env.db, ["fulfillment:write"], mode="live", tenant_id=owner.tenant_id
    )
    response = await env.order(
        live,
        {
            "order_id": "o",
            "integration_id": lab,
            "items": [{"lab_product_id": "x", "quantity": 1, "image_url": "https://i.example/a"}],
            "ship_to": SHIP_TO,
        },
    )

    assert response.status_code == 403, response.text
    assert response.json()["error"]["param"] == "integration_id"


async def test_bad_input_names_the_field(env: Env) -> None:
    owner = await env.tenant()
    response = await env.order(
        owner,
        {
            "order_id": "o",
            "items": [{"lab_product_id": "x", "quantity": 0, "image_url": "not a url"}],
            "ship_to": {**SHIP_TO, "country": "usa"},
        },
    )
    no_default = await env.order(
        owner,
        {
            "order_id": "o",
            "items": [{"lab_product_id": "x", "quantity": 1, "image_url": "https://i.example/a"}],
            "ship_to": SHIP_TO,
        },
    )

    assert response.status_code == 422
    assert response.json()["error"]["param"].startswith(("items.0", "ship_to"))
    assert no_default.status_code == 409, no_default.text
    assert no_default.json()["error"]["param"] == "purpose"
