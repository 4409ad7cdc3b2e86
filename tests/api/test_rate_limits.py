from __future__ import annotations

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key


async def test_key_over_its_rate_limit_gets_429_with_retry_after(
    client: httpx.AsyncClient, db: Database
) -> None:
    limited = await tenant_with_key(db, rate_limit="3/minute")

    responses = [await client.get("/v1/api-keys", headers=limited.headers) for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses[:3]] == ["2", "1", "0"]
    refused = responses[3]
    assert refused.json()["error"]["type"] == "rate_limit"
    assert refused.headers["ratelimit-limit"] == "3"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_one_keys_limit_does_not_touch_another_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    limited = await tenant_with_key(db, rate_limit="1/minute")
    other = await tenant_with_key(db, tenant_id=limited.tenant_id)

    await client.get("/v1/api-keys", headers=limited.headers)
    refused = await client.get("/v1/api-keys", headers=limited.headers)
    fine = await client.get("/v1/api-keys", headers=other.headers)

    assert refused.status_code == 429
    assert fine.status_code == 200
