"""S0 inbound ceiling: a bare Starlette endpoint doing what S1 asks of Interlink, no more —
verify a Stripe-style signature, insert the event with the raw driver (unique provider event id,
a duplicate is a no-op), acknowledge.

    python -m bench.s1_bare PORT SQLITE_PATH|POSTGRES_DSN SECRET
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOLERANCE = 300
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bare_inbound (id TEXT PRIMARY KEY, provider_event_id TEXT "
    "NOT NULL UNIQUE, body TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL)"
)


def verify(header: str, body: bytes, secret: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    ts = parts.get("t", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE:
        return False
    expected = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def build(target: str, secret: bytes) -> Starlette:
    state: dict[str, Any] = {}

    async def startup() -> None:
        if target.startswith("postgres"):
            import asyncpg

            state["pool"] = await asyncpg.create_pool(target, min_size=4, max_size=16)
            await state["pool"].execute(SCHEMA)
        else:
            import aiosqlite

            conn = await aiosqlite.connect(target, isolation_level=None)
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute(SCHEMA)
            state["sqlite"] = conn

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify(request.headers.get("stripe-signature", ""), body, secret):
            return Response(b'{"error":"bad signature"}', status_code=400)
        event_id = orjson.loads(body)["id"]
        row = ("ib_" + secrets.token_hex(12), event_id, body.decode(), time.time())
        if "pool" in state:
            await state["pool"].execute(
                "INSERT INTO bare_inbound VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (provider_event_id) DO NOTHING",
                *row,
            )
        else:
            conn = state["sqlite"]
            await conn.execute(
                "INSERT INTO bare_inbound VALUES (?, ?, ?, ?) "
                "ON CONFLICT (provider_event_id) DO NOTHING",
                row,
            )
        return Response(b'{"received":true}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await startup()
        yield

    return Starlette(routes=[Route("/inbound", receive, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    port, target, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    uvicorn.run(
        build(target, secret), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
