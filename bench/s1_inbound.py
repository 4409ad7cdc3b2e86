"""S1 inbound: signed provider webhooks (Stripe scheme; 10% duplicates, 1% bad signatures) sent
over real sockets to ``POST /v1/inbound/{integration_id}`` of an ``interlink api`` process, and
the same load, in the same run, to a bare Starlette endpoint doing the same verify + insert with
the raw driver (``bench/s1_bare.py``, the S0 ceiling). Both get one uvicorn process; the load goes
to them in alternating slices.

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
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
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
# the load is sent in this many slices to each server in turn (see ``run``)
SLICES = 4


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


@dataclass
class Tally:
    """What the slices sent to one server add up to."""

    requests: int = 0
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def figures(self) -> dict[str, Any]:
        latencies = sorted(self.latencies)
        return {
            "requests": self.requests,
            "events_per_s": round(self.requests / self.elapsed, 1),
            "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
            "latency_ms_p99": round(
                latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2
            ),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_cpu_ms_per_request": round(self.cpu_seconds * 1000 / self.requests, 3),
        }


async def drive(http: aiohttp.ClientSession, url: str, load: list[Delivery], tally: Tally) -> None:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in load:
        queue.put_nowait(d)

    async def one_client() -> None:
        while not queue.empty():
            d = queue.get_nowait()
            headers = {"Content-Type": "application/json", "Stripe-Signature": d.header}
            started = time.perf_counter()
            async with http.post(url, data=d.body, headers=headers) as response:
                await response.read()
                tally.statuses[response.status] += 1
            tally.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
    tally.elapsed += time.perf_counter() - started
    tally.requests += len(load)


async def drive_measured(
    proc: subprocess.Popen[bytes], url: str, load: list[Delivery], tally: Tally
) -> None:
    """``drive``, plus the server process's CPU time (user + system): the figure that guides the
    work on a shared, noisy machine, where events/s move with the neighbours."""
    server = psutil.Process(proc.pid)
    before = server.cpu_times()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:
        await drive(http, url, load, tally)
    after = server.cpu_times()
    tally.cpu_seconds += (after.user - before.user) + (after.system - before.system)


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


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


@contextmanager
def bare_server(raw_target: str) -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "bench.s1_bare", str(port), raw_target, WHSEC]
    with process(args, port, dict(os.environ)) as proc:
        yield Server(proc, f"http://127.0.0.1:{port}/inbound")


async def bare_stored(raw_target: str) -> int:
    if raw_target.startswith("postgres"):
        conn = await asyncpg.connect(raw_target)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM bare_inbound"))
        finally:
            await conn.close()
    import sqlite3

    with sqlite3.connect(raw_target) as conn:
        return int(conn.execute("SELECT count(*) FROM bare_inbound").fetchone()[0])


@asynccontextmanager
async def interlink_server(db: Database, database_url: str) -> AsyncIterator[tuple[Server, str]]:
    """An ``interlink api`` process with a Stripe integration; (the server, its integration)."""
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
        url = f"http://127.0.0.1:{port}/v1/inbound/{integration_id}"
        yield Server(proc, url), integration_id


async def interlink_stored(db: Database, integration_id: str) -> int:
    async with db.read_session() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(
                InboundEvent.integration_id == integration_id,
                InboundEvent.status != "rejected",  # refusals are kept for inspection
            )
        )
    return int(stored or 0)


async def run(database_url: str, raw_target: str, quick: bool) -> dict[str, Any]:
    """Both servers run side by side and take the load in alternating slices (bare, Interlink,
    bare, ...): a neighbour's burst on the shared machine then weighs on both sides alike."""
    n = 1500 if quick else 10000
    load = deliveries(n)
    if not raw_target.startswith("postgres"):
        raw_target = raw_target + ".bare"
    bare, interlink = Tally(), Tally()
    db = Database(Settings(database_url=database_url, encryption_keys=KEYRING))
    try:
        with bare_server(raw_target) as bare_srv:
            async with interlink_server(db, database_url) as (interlink_srv, integration_id):
                size = -(-n // SLICES)
                for start in range(0, n, size):
                    part = load[start : start + size]
                    await drive_measured(bare_srv.proc, bare_srv.url, part, bare)
                    await drive_measured(interlink_srv.proc, interlink_srv.url, part, interlink)
                rss = psutil.Process(interlink_srv.proc.pid).memory_info().rss
        stored = {
            "bare": await bare_stored(raw_target),
            "interlink": await interlink_stored(db, integration_id),
        }
    finally:
        await db.dispose()
    results = {"bare": bare.figures(), "interlink": interlink.figures()}
    results["interlink"]["api_rss_mib"] = round(rss / 2**20, 1)
    for side, figures in results.items():
        figures["stored"] = stored[side]
        figures["ledger_ok"] = stored[side] == distinct_valid(load)
    return {
        "scenario": "S1 inbound",
        "duplicates": DUPLICATES,
        "bad_signatures": BAD_SIGNATURES,
        "concurrency": CONCURRENCY,
        "slices": SLICES,
        "bare": results["bare"],
        "interlink": results["interlink"],
        "ratio_vs_bare": round(
            results["interlink"]["events_per_s"] / results["bare"]["events_per_s"], 3
        ),
        "target_ratio": 0.5,
        "void": not (results["bare"]["ledger_ok"] and results["interlink"]["ledger_ok"]),
    }
