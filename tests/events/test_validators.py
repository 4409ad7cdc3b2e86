"""The JSON schemas of tenant event types: compiled once, and never served stale."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from interlink.db.engine import Database
from interlink.events.validators import validator_for
from interlink.models import EventType
from tests.fixtures.factories import tenant_with_key

INVOICE = {"type": "object", "required": ["invoice"], "properties": {"invoice": {"type": "string"}}}
AMOUNT = {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}}


def test_one_schema_is_compiled_once_whatever_the_order_of_its_keys() -> None:
    reordered = {"properties": INVOICE["properties"], "required": ["invoice"], "type": "object"}
    assert validator_for(INVOICE) is validator_for(reordered)
    assert validator_for(INVOICE) is not validator_for(AMOUNT)


async def test_a_changed_schema_is_enforced_at_once_not_the_cached_one(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = await tenant_with_key(db, ["events:write"])
    created = await client.post(
        "/v1/event-types", json={"name": "invoice.paid", "schema": INVOICE}, headers=key.headers
    )
    assert created.status_code == 201, created.text

    async def publish(data: dict[str, object]) -> httpx.Response:
        body = {"type": "invoice.paid", "data": data}
        return await client.post("/v1/events", json=body, headers=key.headers)

    assert (await publish({"invoice": "in_1"})).status_code == 201
    assert (await publish({"amount": 5})).status_code == 422

    async with db.session() as session:
        await session.execute(
            update(EventType).where(EventType.tenant_id == key.tenant_id).values(schema=AMOUNT)
        )
        await session.commit()

    refused = await publish({"invoice": "in_2"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_event_data"
    assert (await publish({"amount": 5})).status_code == 201
