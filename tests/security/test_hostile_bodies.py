"""Oversized, deeply nested, non-UTF-8 and malformed bodies get a 4xx in the one error shape on
every route that takes a body, and never a 5xx."""

from __future__ import annotations

import secrets

import httpx
import pytest
from fastapi import FastAPI

from interlink.config import Settings
from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key
from tests.security.routes import api_routes
from tests.security.test_scope_matrix import placeholder

NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def hostile(settings: Settings) -> dict[str, bytes]:
    return {
        "oversized": b'{"name": "' + b"x" * (settings.max_body_bytes + 1) + b'"}',
        "deeply nested arrays": NESTED,
        "deeply nested objects": NESTED_OBJECTS,
        "not UTF-8": b'{"name": "\xff\xfe\xfa"}',
        "lone surrogate escape": b'{"name": "\\ud800"}',
        "not JSON": b"name=x&y=z",
        "truncated JSON": b'{"name": ',
        "JSON scalar": b"42",
        "NaN": b'{"amount": NaN}',
        "huge integer": b'{"amount": ' + b"9" * 5000 + b"}",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "oversized",
        "deeply nested arrays",
        "deeply nested objects",
        "not UTF-8",
        "lone surrogate escape",
        "not JSON",
        "truncated JSON",
        "JSON scalar",
        "NaN",
        "huge integer",
    ],
)
async def test_hostile_body_gets_a_4xx_on_every_route_that_takes_one(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings, kind: str
) -> None:
    admin = await tenant_with_key(db, ["admin", "platform"])
    body = hostile(settings)[kind]
    failures: list[str] = []
    for route in api_routes(app):
        if route.method not in {"POST", "PUT", "PATCH"}:
            continue
        url = route.url({p: placeholder(p) for p in route.path_params})
        response = await client.request(
            route.method,
            url,
            content=body,
            headers={
                **admin.headers,
                "Content-Type": "application/json",
                "Idempotency-Key": secrets.token_hex(8),
            },
        )
        if not 400 <= response.status_code < 500:
            failures.append(f"{route.label}: {response.status_code} {response.text[:200]}")
        elif "error" not in response.json():
            failures.append(f"{route.label}: {response.status_code} not in the error shape")
    assert not failures, "\n".join(failures)
