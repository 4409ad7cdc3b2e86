"""Failures the fuzzer found, reproduced deterministically, so that they stay fixed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from interlink import pipeline
from interlink.db.engine import Database
from interlink.models import WebhookEndpoint
from interlink.webhooks_out import testing
from interlink.webhooks_out.client import AttemptResult
from tests.fixtures.factories import tenant_with_key


async def test_endpoint_deleted_during_its_test_delivery_is_a_4xx_not_a_500(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await tenant_with_key(db, ["webhooks:write"])
    created = await client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.invalid/x"}, headers=key.headers
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]

    async def deleted_meanwhile(*args: Any, **kwargs: Any) -> AttemptResult:
        async with db.session() as session:
            await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
            await session.commit()
        return AttemptResult(200, 5, "ok", None, None)

    monkeypatch.setattr(testing, "send", deleted_meanwhile)
    # the console renderer spends ~15 s drawing the expected 500's traceback with its locals
    monkeypatch.setattr(pipeline.log, "exception", lambda *args, **kwargs: None)
    response = await client.post(f"/v1/webhooks/{endpoint_id}/test", headers=key.headers)
    assert response.status_code in (404, 409), response.text
