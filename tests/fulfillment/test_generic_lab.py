"""The generic REST lab adapter: its configuration is validated when the integration is saved
(with the path of the mistake), and a valid one is applied against a fake lab; Miller's / Mpix
is its preset."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from interlink.providers.mpix import MPIX_PRESET
from tests.fixtures.fake_mpix import FakeMpix
from tests.fixtures.servers import LocalServer
from tests.fulfillment.conftest import SHIP_TO, Env

MPIX_CREDENTIALS = {"api_token": "mpix-token", "user": "studio@example.com"}


@pytest.fixture
async def mpix() -> AsyncIterator[FakeMpix]:
    fake = FakeMpix()
    async with LocalServer(fake.app()) as server:
        fake.base = server.base
        yield fake


def generic_config(base: str) -> dict[str, Any]:
    config = copy.deepcopy(MPIX_PRESET)
    config["base_url"] = base
    config["auth"] = {"type": "header", "header": "X-MpixApi-Token", "credential": "token"}
    config["headers"] = {"X-MpixUser": "{{credentials.user}}"}
    config["status"] = {"mode": "poll", "path": "/orders/{{lab_order_id}}", "interval_seconds": 1}
    return config


async def refused(env: Env, settings: dict[str, Any]) -> dict[str, Any]:
    key = await env.tenant()
    response = await env.client.post(
        "/v1/integrations",
        json={"connection_code": "generic_lab", "name": "lab", "settings": settings},
        headers=key.headers,
    )
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_mapping_naming_a_field_that_does_not_exist_is_refused_with_its_path(
    env: Env,
) -> None:
    config = generic_config("https://lab.example")
    config["steps"][2]["body"]["ShipTo"]["City"] = "{{order.ship_to.cty}}"

    error = await refused(env, config)

    assert error["param"] == "settings.steps.2.body.ShipTo.City"
    assert "order.ship_to.cty is not a field of the order model" in error["message"]
    assert "city" in error["message"]


async def test_item_field_outside_a_list_of_items_is_refused(env: Env) -> None:
    config = generic_config("https://lab.example")
    config["steps"][2]["body"]["Sku"] = "{{item.product_id}}"

    error = await refused(env, config)

    assert error["param"] == "settings.steps.2.body.Sku"
    assert '"$each": "order.items"' in error["message"]


async def test_reference_to_a_value_no_earlier_step_saves_is_refused(env: Env) -> None:
    config = generic_config("https://lab.example")
    config["steps"][2]["body"]["SessionId"] = "{{steps.session.token}}"

    error = await refused(env, config)

    assert error["param"] == "settings.steps.2.body.SessionId"
    assert "step 'session' saves no 'token'" in error["message"]


async def test_configuration_breaking_the_schema_is_refused(env: Env) -> None:
    config = generic_config("https://lab.example")
    del config["response"]["order_id"]
    missing_id = await refused(env, config)
    bad_auth = await refused(env, {**generic_config("https://x"), "auth": {"type": "magic"}})

    assert missing_id["param"] == "settings.response.order_id"
    assert bad_auth["param"].startswith("settings.auth")


async def test_valid_generic_configuration_is_applied_session_upload_order_and_poll(
    env: Env, mpix: FakeMpix
) -> None:
    key = await env.tenant()
    lab = await env.integration(
        key,
        "generic_lab",
        {"token": "mpix-token", "user": "studio@example.com"},
        generic_config(mpix.base),
    )
    url, md5 = env.image("g.jpg", b"generic-image")
    created = await env.order(
        key,
        {
            "order_id": "ord_g",
            "integration_id": lab,
            "items": [{"lab_product_id": "P-8x10", "quantity": 2, "image_url": url}],
            "ship_to": SHIP_TO,
        },
    )
    assert created.status_code == 201, created.text

    async with env.worker():
        submitted = await env.wait_status(key, created.json()["id"], "submitted")
        mpix.ship(submitted["lab_order_id"])
        shipped = await env.wait_status(key, created.json()["id"], "shipped")

    sent = mpix.orders[submitted["lab_order_id"]]["Request"]
    assert sent["ShipTo"]["City"] == "Austin"
    assert sent["Reference"] == created.json()["id"]
    assert sent["Items"][0]["ProductId"] == "P-8x10"
    assert sent["Items"][0]["Quantity"] == 2
    assert sent["Items"][0]["Images"][0]["Md5"] == md5
    assert shipped["tracking"][0]["number"] == "9400TEST"
    assert mpix.order_posts == 1


async def test_mpix_preset_submits_with_mpix_headers(env: Env, mpix: FakeMpix) -> None:
    key = await env.tenant()
    lab = await env.integration(
        key,
        "mpix",
        MPIX_CREDENTIALS,
        {"api_base": mpix.base, "status": {"mode": "poll", "interval_seconds": 1}},
    )
    url, _ = env.image("m.jpg", b"mpix-image")
    created = await env.order(
        key,
        {
            "order_id": "ord_m",
            "integration_id": lab,
            "items": [{"lab_product_id": "P-4x6", "quantity": 1, "image_url": url}],
            "ship_to": SHIP_TO,
        },
    )

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "submitted")

    assert order["lab_order_id"] in mpix.orders
    assert len(mpix.images) == 1


async def test_mpix_wrong_token_needs_attention_without_retrying_forever(
    env: Env, mpix: FakeMpix
) -> None:
    key = await env.tenant()
    lab = await env.integration(
        key, "mpix", {"api_token": "wrong", "user": "studio@example.com"}, {"api_base": mpix.base}
    )
    url, _ = env.image("m.jpg", b"mpix-image")
    created = await env.order(
        key,
        {
            "order_id": "ord_m",
            "integration_id": lab,
            "items": [{"lab_product_id": "P-4x6", "quantity": 1, "image_url": url}],
            "ship_to": SHIP_TO,
        },
    )

    async with env.worker():
        order = await env.wait_status(key, created.json()["id"], "needs_attention")

    assert order["error_code"] == "lab_auth_failed"
