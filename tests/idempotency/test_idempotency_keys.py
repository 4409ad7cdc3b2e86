from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from interlink.db.engine import Database
from interlink.models import ApiKey, IdempotencyRecord
from tests.fixtures.factories import tenant_with_key


async def _count_keys(db: Database, tenant_id: str) -> int:
    async with db.read_session() as session:
        count = await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == tenant_id)
        )
        return int(count or 0)


async def test_same_key_and_body_replays_the_stored_response(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    headers = {**admin.headers, "Idempotency-Key": "create-1"}

    first = await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)
    second = await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count_keys(db, admin.tenant_id) == 2


async def test_same_key_with_a_different_body_is_rejected(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    headers = {**admin.headers, "Idempotency-Key": "create-2"}

    await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)
    other = await client.post(
        "/v1/api-keys", json={"scopes": ["admin"], "name": "x"}, headers=headers
    )

    assert other.status_code == 422
    assert other.json()["error"]["type"] == "idempotency"
    assert await _count_keys(db, admin.tenant_id) == 2


async def test_keys_are_scoped_per_api_key(client: httpx.AsyncClient, db: Database) -> None:
    first = await tenant_with_key(db)
    second = await tenant_with_key(db, tenant_id=first.tenant_id)

    a = await client.post(
        "/v1/api-keys",
        json={"scopes": ["admin"]},
        headers={**first.headers, "Idempotency-Key": "k"},
    )
    b = await client.post(
        "/v1/api-keys",
        json={"scopes": ["admin"]},
        headers={**second.headers, "Idempotency-Key": "k"},
    )

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_twenty_concurrent_requests_with_one_key_execute_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    headers = {**admin.headers, "Idempotency-Key": "burst"}

    responses = await asyncio.gather(
        *[
            client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)
            for _ in range(20)
        ]
    )

    created = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(created) == 1
    assert len(replayed) + len(in_flight) == 19
    assert all(r.json()["id"] == created[0].json()["id"] for r in replayed)
    assert all(r.json()["error"]["code"] == "idempotency_key_in_use" for r in in_flight)
    assert await _count_keys(db, admin.tenant_id) == 2


async def test_a_refused_request_replays_the_same_refusal(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    headers = {**admin.headers, "Idempotency-Key": "bad-scope"}

    first = await client.post("/v1/api-keys", json={"scopes": ["nope:x"]}, headers=headers)
    second = await client.post("/v1/api-keys", json={"scopes": ["nope:x"]}, headers=headers)

    assert first.status_code == second.status_code == 422
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"


async def test_expired_key_runs_the_request_again(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)
    headers = {**admin.headers, "Idempotency-Key": "old"}
    first = await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)
    async with db.session() as session:
        await session.execute(
            update(IdempotencyRecord).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()

    again = await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=headers)

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in again.headers


async def test_a_stored_response_that_reveals_a_key_is_sealed_at_rest(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    created = await client.post(
        "/v1/api-keys",
        json={"scopes": ["admin"]},
        headers={**admin.headers, "Idempotency-Key": "secret"},
    )

    async with db.read_session() as session:
        record = await session.scalar(select(IdempotencyRecord))
    assert record is not None
    assert record.response_body is not None
    assert record.response_sealed
    assert created.json()["key"].encode() not in record.response_body


async def test_overlong_idempotency_key_is_rejected(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    response = await client.post(
        "/v1/api-keys",
        json={"scopes": ["admin"]},
        headers={**admin.headers, "Idempotency-Key": "k" * 256},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
