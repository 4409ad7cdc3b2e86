"""S1 inbound: signed provider webhooks (Stripe scheme; 10% duplicates, 1% bad signatures) sent
over real sockets to ``POST /v1/inbound/{integration_id}`` of an ``interlink api`` process, and
the same load, in the same run, to a bare Starlette endpoint doing the same verify + insert with
the raw driver (``bench/s1_bare.py``, the S0 ceiling). Both get one uvicorn process.

Reported: events/s (every request, duplicates and refusals included), p50/p99 latency, the
answers by status, and a ledger check (every distinct well-signed event stored exactly once)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import httpx
import psutil
from sqlalchemy import func, select

from interlink.auth import service as keys_service
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.models import InboundEvent
from interlink.tenants import service as tenants_service
from interlink.tenants.schemas import TenantCreate

KEYRING = "bench1:" + base64.b64encode(b"b" * 32).decode()
WHSEC = "whsec_benchInboundSecret0001"
CONCURRENCY = 32
DUPLICATES = 0.10
BAD_SIGNATURES = 0.01


@dataclass(frozen=True)
class Delivery:
    body: bytes
    header: str
    event_id: str
    valid: bool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sign(body: bytes, secret: str, ts: int) -> str:
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def deliveries(n: int, seed: int = 1) -> list[Delivery]:
    rng = random.Random(seed)
    ts = int(time.time())
    sent: list[Delivery] = []
    for i in range(n):
        roll = rng.random()
        if sent and roll < DUPLICATES:
            sent.append(rng.choice([d for d in sent[-200:] if d.valid] or sent[-1:]))
            continue
        event_id = f"evt_bench_{i:08d}"
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": ts,
                "data": {
                    "object": {
                        "id": f"pi_{i}",
                        "amount": 2500,
                        "currency": "usd",
                        "metadata": {"order_id": f"ord_{i}", "pad": "x" * 600},
                    }
                },
            }
        ).encode()
        bad = roll > 1 - BAD_SIGNATURES
        sent.append(
            Delivery(body, _sign(body, "whsec_wrong" if bad else WHSEC, ts), event_id, not bad)
        )
    return sent


async def drive(url: str, load: list[Delivery]) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in load:
        queue.put_nowait(d)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one_client() -> None:
            while not queue.empty():
                d = queue.get_nowait()
                headers = {"Content-Type": "application/json", "Stripe-Signature": d.header}
                started = time.perf_counter()
                async with http.post(url, data=d.body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(load),
        "events_per_s": round(len(load) / elapsed, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
        "latency_ms_p99": round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2
        ),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


async def drive_measured(
    proc: subprocess.Popen[bytes], url: str, load: list[Delivery]
) -> dict[str, Any]:
    """``drive``, plus the server process's CPU time per request (user + system): the figure
    that guides the work on a shared, noisy machine, where events/s move with the neighbours."""
    server = psutil.Process(proc.pid)
    before = server.cpu_times()
    figures = await drive(url, load)
    after = server.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    figures["server_cpu_ms_per_request"] = round(cpu * 1000 / len(load), 3)
    return figures


@contextmanager
def process(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    # stderr goes to a file, not a pipe: a pipe nobody reads fills up (64 KiB) and then blocks
    # the server on its next log line, which would throttle one side of the comparison only
    with tempfile.TemporaryFile() as errors:
        # our own interpreter running our own modules
        proc = subprocess.Popen(  # noqa: S603
            args, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(f"{args} exited: {errors.read().decode()[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{args} never listened on {port}") from None
                    time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def distinct_valid(load: list[Delivery]) -> int:
    return len({d.event_id for d in load if d.valid})


async def run_bare(raw_target: str, n: int) -> dict[str, Any]:
    if not raw_target.startswith("postgres"):
        raw_target = raw_target + ".bare"
    load = deliveries(n)
    port = free_port()
    args = [sys.executable, "-m", "bench.s1_bare", str(port), raw_target, WHSEC]
    with process(args, port, dict(os.environ)) as proc:
        figures = await drive_measured(proc, f"http://127.0.0.1:{port}/inbound", load)
    if raw_target.startswith("postgres"):
        conn = await asyncpg.connect(raw_target)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM bare_inbound")
        finally:
            await conn.close()
    else:
        import sqlite3

        with sqlite3.connect(raw_target) as conn:
            stored = conn.execute("SELECT count(*) FROM bare_inbound").fetchone()[0]
    figures["stored"] = int(stored)
    figures["ledger_ok"] = stored == distinct_valid(load)
    return figures


async def run_interlink(database_url: str, n: int) -> dict[str, Any]:
    settings = Settings(database_url=database_url, encryption_keys=KEYRING)
    db = Database(settings)
    async with db.session() as session:
        tenant = await tenants_service.create(session, TenantCreate(name="Bench S1"))
        issued = await keys_service.issue(
            session, tenant_id=tenant.id, scopes=["admin"], mode="test"
        )
        await session.commit()
    port = free_port()
    env = {
        **os.environ,
        "INTERLINK_DATABASE_URL": database_url,
        "INTERLINK_ENCRYPTION_KEYS": KEYRING,
        "INTERLINK_RATE_LIMIT_DEFAULT": "1000000/second",
        "INTERLINK_LOG_LEVEL": "warning",
    }
    args = [sys.executable, "-m", "interlink", "api", "--port", str(port)]
    load = deliveries(n)
    try:
        with process(args, port, env) as proc:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                created = await client.post(
                    "/v1/integrations",
                    json={
                        "connection_code": "stripe",
                        "name": "Stripe",
                        "credentials": {"secret_key": "sk_test_bench", "webhook_secret": WHSEC},
                    },
                    headers={"Authorization": f"Bearer {issued.key}"},
                )
                created.raise_for_status()
                integration_id = created.json()["id"]
            figures = await drive_measured(
                proc, f"http://127.0.0.1:{port}/v1/inbound/{integration_id}", load
            )
            figures["api_rss_mib"] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
        async with db.read_session() as session:
            stored = await session.scalar(
                select(func.count())
                .select_from(InboundEvent)
                .where(
                    InboundEvent.integration_id == integration_id,
                    InboundEvent.status != "rejected",  # refusals are kept for inspection
                )
            )
    finally:
        await db.dispose()
    figures["stored"] = int(stored or 0)
    figures["ledger_ok"] = stored == distinct_valid(load)
    return figures


async def run(database_url: str, raw_target: str, quick: bool) -> dict[str, Any]:
    n = 1500 if quick else 10000
    bare = await run_bare(raw_target, n)
    interlink = await run_interlink(database_url, n)
    return {
        "scenario": "S1 inbound",
        "duplicates": DUPLICATES,
        "bad_signatures": BAD_SIGNATURES,
        "concurrency": CONCURRENCY,
        "bare": bare,
        "interlink": interlink,
        "ratio_vs_bare": round(interlink["events_per_s"] / bare["events_per_s"], 3),
        "target_ratio": 0.5,
        "void": not (bare["ledger_ok"] and interlink["ledger_ok"]),
    }
