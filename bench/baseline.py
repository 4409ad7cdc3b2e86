"""S0: the bare durable delivery loop — the ceiling for outbound. Rows in an outbox table, claimed
64 at a time with the raw driver, signed (HMAC-SHA256), POSTed with aiohttp, acknowledged in one
batch. Nothing else: no attempts history, no schedule, no per-endpoint fairness."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

BATCH = 64
LOOPS = 4
KEY = b"k" * 32


def _sign(msg_id: str, ts: int, body: bytes) -> str:
    digest = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def _post_all(http: aiohttp.ClientSession, url: str, rows: list[tuple[str, bytes]]) -> None:
    async def post(msg_id: str, body: bytes) -> None:
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": _sign(msg_id, ts, body),
        }
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()

    await asyncio.gather(*(post(m, b) for m, b in rows))


def _payload(n: int, size: int) -> bytes:
    return orjson.dumps(
        {"id": f"evt_base_{n}", "type": "order.created", "data": {"pad": "x" * size}}
    )


async def run_sqlite(path: str, url: str, deliveries: int, size: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_outbox (id TEXT PRIMARY KEY, body BLOB, state INT)"
    )
    # the claim finds the waiting rows by index, not by scanning past every row already claimed
    conn.execute("CREATE INDEX IF NOT EXISTS bench_outbox_due ON bench_outbox (state)")
    conn.execute("DELETE FROM bench_outbox")
    conn.executemany(
        "INSERT INTO bench_outbox VALUES (?, ?, 0)",
        [(f"msg_base_{n}", _payload(n, size)) for n in range(deliveries)],
    )

    def claim() -> list[tuple[str, bytes]]:
        rows = conn.execute(
            "UPDATE bench_outbox SET state = 1 WHERE id IN "
            "(SELECT id FROM bench_outbox WHERE state = 0 LIMIT ?) RETURNING id, body",
            (BATCH,),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def ack(ids: list[str]) -> None:
        conn.executemany("UPDATE bench_outbox SET state = 2 WHERE id = ?", [(i,) for i in ids])

    try:
        return await _drive(url, claim_async(claim), ack_async(ack))
    finally:
        conn.close()


def claim_async(
    fn: Callable[[], list[tuple[str, bytes]]],
) -> Callable[[], Awaitable[list[tuple[str, bytes]]]]:
    async def run() -> list[tuple[str, bytes]]:
        return fn()

    return run


def ack_async(fn: Callable[[list[str]], None]) -> Callable[[list[str]], Awaitable[None]]:
    async def run(ids: list[str]) -> None:
        fn(ids)

    return run


async def run_postgres(dsn: str, url: str, deliveries: int, size: int) -> float:
    import asyncpg

    pool: Any = await asyncpg.create_pool(dsn, min_size=LOOPS, max_size=LOOPS + 1)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_outbox "
                "(id TEXT PRIMARY KEY, body BYTEA, state INT)"
            )
            await conn.execute(
                "CREATE INDEX IF NOT EXISTS bench_outbox_due ON bench_outbox (state)"
            )
            await conn.execute("TRUNCATE bench_outbox")
            await conn.copy_records_to_table(
                "bench_outbox",
                records=[(f"msg_base_{n}", _payload(n, size), 0) for n in range(deliveries)],
            )
            # planned on the table as loaded, as Interlink's worker keeps its queues analyzed
            await conn.execute("ANALYZE bench_outbox")

        async def claim() -> list[tuple[str, bytes]]:
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "UPDATE bench_outbox SET state = 1 WHERE id IN (SELECT id FROM bench_outbox "
                    "WHERE state = 0 LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, body",
                    BATCH,
                )
            return [(r["id"], bytes(r["body"])) for r in rows]

        async def ack(ids: list[str]) -> None:
            async with pool.acquire() as conn:
                await conn.execute("UPDATE bench_outbox SET state = 2 WHERE id = ANY($1)", ids)

        return await _drive(url, claim, ack)
    finally:
        await pool.close()


async def _drive(
    url: str,
    claim: Callable[[], Awaitable[list[tuple[str, bytes]]]],
    ack: Callable[[list[str]], Awaitable[None]],
) -> float:
    """Deliveries per second of ``LOOPS`` concurrent claim → sign → POST → ack loops."""
    connector = aiohttp.TCPConnector(limit=LOOPS * BATCH)
    delivered = 0
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()

        async def loop() -> None:
            nonlocal delivered
            while True:
                rows = await claim()
                if not rows:
                    return
                await _post_all(http, url, rows)
                await ack([r[0] for r in rows])
                delivered += len(rows)

        await asyncio.gather(*(loop() for _ in range(LOOPS)))
        elapsed = time.perf_counter() - started
    return delivered / elapsed


# -- end to end: the same loop while publishers write the events -----------------------------
#
# The figure Interlink's end-to-end S2 figure compares with: ``PUBLISHERS`` concurrent publishers,
# each event in its own transaction (an event row and one outbox row per endpoint, the raw
# driver), while the loops above drain the outbox; deliveries per second from the first publish to
# the last acknowledgement. Publishers and loops share this one process (Interlink's publishers
# and worker are two processes), so this ceiling is, if anything, a low one.

PUBLISHERS = 4
IDLE_POLL = 0.005  # a loop that found nothing due looks again this much later


def _event(n: int, size: int) -> tuple[str, bytes]:
    return f"evt_e2e_{n}", _payload(n, size)


async def run_postgres_e2e(dsn: str, url: str, events: int, endpoints: int, size: int) -> float:
    import asyncpg

    pool: Any = await asyncpg.create_pool(
        dsn, min_size=LOOPS + PUBLISHERS, max_size=LOOPS + PUBLISHERS + 1
    )
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_events (id TEXT PRIMARY KEY, body BYTEA)"
            )
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_e2e_outbox "
                "(id TEXT PRIMARY KEY, event_id TEXT, body BYTEA, state INT)"
            )
            await conn.execute(
                "CREATE INDEX IF NOT EXISTS bench_e2e_due ON bench_e2e_outbox (state)"
            )
            await conn.execute("TRUNCATE bench_events, bench_e2e_outbox")

        async def publish(n: int) -> None:
            event_id, body = _event(n, size)
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO bench_events VALUES ($1, $2)", event_id, body)
                await conn.execute(
                    "INSERT INTO bench_e2e_outbox SELECT unnest($1::text[]), $2, $3, 0",
                    [f"msg_{n}_{e}" for e in range(endpoints)],
                    event_id,
                    body,
                )

        async def claim() -> list[tuple[str, bytes]]:
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "UPDATE bench_e2e_outbox SET state = 1 WHERE id IN (SELECT id FROM "
                    "bench_e2e_outbox WHERE state = 0 LIMIT $1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, body",
                    BATCH,
                )
            return [(r["id"], bytes(r["body"])) for r in rows]

        async def ack(ids: list[str]) -> None:
            async with pool.acquire() as conn:
                await conn.execute("UPDATE bench_e2e_outbox SET state = 2 WHERE id = ANY($1)", ids)

        return await _drive_e2e(url, events, endpoints, publish, claim, ack)
    finally:
        await pool.close()


async def run_sqlite_e2e(path: str, url: str, events: int, endpoints: int, size: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_events (id TEXT PRIMARY KEY, body BLOB)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_e2e_outbox "
        "(id TEXT PRIMARY KEY, event_id TEXT, body BLOB, state INT)"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS bench_e2e_due ON bench_e2e_outbox (state)")
    conn.execute("DELETE FROM bench_events")
    conn.execute("DELETE FROM bench_e2e_outbox")

    async def publish(n: int) -> None:
        event_id, body = _event(n, size)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO bench_events VALUES (?, ?)", (event_id, body))
            conn.executemany(
                "INSERT INTO bench_e2e_outbox VALUES (?, ?, ?, 0)",
                [(f"msg_{n}_{e}", event_id, body) for e in range(endpoints)],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        await asyncio.sleep(0)  # one publisher's commit at a time, as one writer connection

    def claim() -> list[tuple[str, bytes]]:
        rows = conn.execute(
            "UPDATE bench_e2e_outbox SET state = 1 WHERE id IN "
            "(SELECT id FROM bench_e2e_outbox WHERE state = 0 LIMIT ?) RETURNING id, body",
            (BATCH,),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def ack(ids: list[str]) -> None:
        conn.executemany("UPDATE bench_e2e_outbox SET state = 2 WHERE id = ?", [(i,) for i in ids])

    try:
        return await _drive_e2e(url, events, endpoints, publish, claim_async(claim), ack_async(ack))
    finally:
        conn.close()


async def _drive_e2e(
    url: str,
    events: int,
    endpoints: int,
    publish: Callable[[int], Awaitable[None]],
    claim: Callable[[], Awaitable[list[tuple[str, bytes]]]],
    ack: Callable[[list[str]], Awaitable[None]],
) -> float:
    """Deliveries per second while ``PUBLISHERS`` publish ``events`` and ``LOOPS`` loops drain."""
    connector = aiohttp.TCPConnector(limit=LOOPS * BATCH)
    expected = events * endpoints
    delivered = 0
    counter = iter(range(events))
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()

        async def publisher() -> None:
            for n in counter:
                await publish(n)

        async def loop() -> None:
            nonlocal delivered
            while delivered < expected:
                rows = await claim()
                if not rows:
                    await asyncio.sleep(IDLE_POLL)
                    continue
                await _post_all(http, url, rows)
                await ack([r[0] for r in rows])
                delivered += len(rows)

        await asyncio.gather(
            *(publisher() for _ in range(PUBLISHERS)), *(loop() for _ in range(LOOPS))
        )
        elapsed = time.perf_counter() - started
    return delivered / elapsed
