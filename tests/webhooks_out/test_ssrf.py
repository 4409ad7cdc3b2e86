"""SSRF: non-public destinations are refused at registration and, on the resolved address, at
connect time; redirects are never followed."""

from __future__ import annotations

import httpx
import pytest

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.kit.ssrf import AddressPolicy
from interlink.webhooks_out.client import DeliveryClient
from tests.webhooks_out.conftest import ALLOW_LOOPBACK, FakeClock, Receiver, run_due_jobs
from tests.webhooks_out.helpers import create_endpoint, only_delivery, publish, tenant

BLOCKED = [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.10.10",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - a destination under test, not a bind address
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "[::1]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",
    "[ff02::1]",
    "[::ffff:10.0.0.1]",
]


@pytest.mark.parametrize("host", BLOCKED)
async def test_registration_refuses_a_non_public_address(
    db: Database, client: httpx.AsyncClient, host: str
) -> None:
    key = await tenant(db)
    response = await client.post(
        "/v1/webhooks", json={"url": f"http://{host}/hook"}, headers=key.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "blocked_address"
    assert response.json()["error"]["param"] == "url"


@pytest.mark.parametrize("host", BLOCKED)
async def test_delivery_client_refuses_a_non_public_address_at_connect_time(host: str) -> None:
    client = DeliveryClient(AddressPolicy())
    try:
        result = await client.send(f"http://{host}:9/hook", b"{}", {}, 2)
    finally:
        await client.close()
    assert result.error_class == "blocked_address"
    assert result.status_code is None


async def test_a_name_resolving_to_loopback_is_refused_when_connecting(
    receiver: Receiver,
) -> None:
    before = len(await receiver.log())
    client = DeliveryClient(AddressPolicy())
    try:
        result = await client.send(f"http://localhost:{receiver.port}/ok/ssrf", b"{}", {}, 2)
    finally:
        await client.close()
    assert result.error_class == "blocked_address"
    assert len(await receiver.log()) == before


async def test_allow_listed_network_is_reachable(receiver: Receiver) -> None:
    client = DeliveryClient(AddressPolicy(ALLOW_LOOPBACK))
    try:
        result = await client.send(f"http://localhost:{receiver.port}/ok/allowed", b"{}", {}, 2)
    finally:
        await client.close()
    assert result.status_code == 200


async def test_a_redirect_towards_a_metadata_address_is_not_followed(
    receiver: Receiver,
) -> None:
    client = DeliveryClient(AddressPolicy(ALLOW_LOOPBACK))
    try:
        result = await client.send(receiver.url("/redirect/ssrf"), b"{}", {}, 2)
    finally:
        await client.close()
    assert result.status_code == 302
    assert result.error_class == "redirect"
    assert not result.succeeded


async def test_registration_refuses_localhost_by_name(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = await tenant(db)
    response = await client.post(
        "/v1/webhooks", json={"url": "http://localhost:8080/hook"}, headers=key.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "blocked_address"


async def test_a_redirecting_endpoint_is_a_failed_delivery_that_is_not_followed(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/redirect/{unique}"))
    await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    [attempt] = delivery["attempt_history"]
    assert attempt["status_code"] == 302
    assert attempt["error_class"] == "redirect"
    assert delivery["status"] == "pending"
    assert len(await receiver.log(f"/redirect/{unique}")) == 1
