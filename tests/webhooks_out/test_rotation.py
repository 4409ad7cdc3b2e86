"""Secret rotation: both secrets sign inside the overlap window, only the new one after it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import standardwebhooks

from interlink.config import Settings
from interlink.db.engine import Database
from tests.webhooks_out.conftest import FakeClock, Receiver, run_due_jobs
from tests.webhooks_out.helpers import create_endpoint, publish, tenant


async def test_old_and_new_secret_both_verify_during_the_overlap_and_only_new_after(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    old = endpoint["secret"]
    rotated = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/rotate-secret", headers=key.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["secret_rotation_ends_at"] is not None
    revealed = await wh_client.get(f"/v1/webhooks/{endpoint['id']}/secret", headers=key.headers)
    assert revealed.json()["key"] == new

    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    [inside] = await receiver.log(f"/ok/{unique}")
    assert len(inside["headers"]["webhook-signature"].split()) == 2
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(inside["body"], inside["headers"])

    fake_clock.advance(timedelta(hours=24, seconds=1))
    await publish(wh_client, key, "order.updated")
    await run_due_jobs(db, wh_settings)
    [_, after] = await receiver.log(f"/ok/{unique}")
    assert len(after["headers"]["webhook-signature"].split()) == 1
    standardwebhooks.Webhook(new).verify(after["body"], after["headers"])
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old).verify(after["body"], after["headers"])


async def test_rotation_without_overlap_stops_the_old_secret_at_once(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    rotated = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/rotate-secret",
        json={"overlap_hours": 0},
        headers=key.headers,
    )
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    [request] = await receiver.log(f"/ok/{unique}")
    standardwebhooks.Webhook(rotated.json()["secret"]).verify(request["body"], request["headers"])
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(endpoint["secret"]).verify(request["body"], request["headers"])


async def test_secret_is_encrypted_at_rest(db: Database, wh_client: httpx.AsyncClient) -> None:
    from sqlalchemy import select

    from interlink.models import WebhookEndpoint

    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, "https://hooks.example.com/x")
    async with db.read_session() as session:
        row = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"])
        )
    assert row is not None
    secret_body = endpoint["secret"].removeprefix("whsec_")
    assert secret_body not in row.secret_sealed
