"""Every kind of bad input gets a 4xx in the one error shape, never a 500 or a stack trace."""

from __future__ import annotations

import httpx
import pytest

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key


def assert_error_shape(response: httpx.Response, status: int, type_: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == type_
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return dict(error)


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)

    response = await client.post(
        "/v1/api-keys",
        content=b'{"scopes": [',
        headers={**admin.headers, "Content-Type": "application/json"},
    )

    error = assert_error_shape(response, 400, "invalid_request")
    assert error["code"] == "invalid_json"


async def test_a_body_that_is_not_json_is_a_415(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)

    response = await client.post(
        "/v1/api-keys",
        content=b"scopes=admin",
        headers={**admin.headers, "Content-Type": "text/plain"},
    )

    assert_error_shape(response, 415, "invalid_request")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"scopes": "admin"}, "scopes"),
        ({"scopes": [1]}, "scopes.0"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"], "unexpected": True}, "unexpected"),
        ({"scopes": ["admin"], "expires_at": "tomorrow"}, "expires_at"),
        ({"scopes": ["admin"], "rate_limit": "fast"}, "rate_limit"),
        ({}, "scopes"),
    ],
)
async def test_wrong_types_are_a_422_naming_the_field(
    client: httpx.AsyncClient, db: Database, body: dict[str, object], param: str
) -> None:
    admin = await tenant_with_key(db)

    response = await client.post("/v1/api-keys", json=body, headers=admin.headers)

    error = assert_error_shape(response, 422, "invalid_request")
    assert error["param"] == param
    assert param in error["message"]


async def test_invalid_query_parameter_is_a_422(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)

    response = await client.get("/v1/api-keys?limit=1000", headers=admin.headers)

    assert assert_error_shape(response, 422, "invalid_request")["param"] == "limit"


async def test_oversized_body_is_a_413(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)
    huge = b'{"scopes": ["' + b"a" * 2_000_000 + b'"]}'

    response = await client.post(
        "/v1/api-keys", content=huge, headers={**admin.headers, "Content-Type": "application/json"}
    )

    assert assert_error_shape(response, 413, "invalid_request")["code"] == "payload_too_large"


async def test_unknown_route_is_a_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")

    assert assert_error_shape(response, 404, "not_found")["code"] == "route_not_found"


async def test_wrong_method_is_a_405_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.patch("/v1/api-keys")

    assert_error_shape(response, 405, "invalid_request")


async def test_missing_scope_is_a_403(client: httpx.AsyncClient, db: Database) -> None:
    reader = await tenant_with_key(db, ["payments:read"])

    response = await client.get("/v1/api-keys", headers=reader.headers)

    assert assert_error_shape(response, 403, "permission")["param"] == "api_keys:read"


async def test_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    kept = await client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    correlated = await client.get("/healthz", headers={"X-Correlation-Id": "corr-9"})
    made = await client.get("/healthz")
    unsafe = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})

    assert kept.headers["x-request-id"] == "trace-123"
    assert correlated.headers["x-request-id"] == "corr-9"
    assert made.headers["x-request-id"].startswith("req_")
    assert unsafe.headers["x-request-id"].startswith("req_")
