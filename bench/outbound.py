"""S2 outbound fan-out, end to end: events published through ``events.publish`` (each in its own
transaction, as a domain would), delivered by an ``interlink worker`` process to a local receiver.

Three phases per case: a backlog published as fast as four publishers can while the worker runs
(end-to-end throughput, bounded by the publishers too), the same backlog published while the worker
is frozen and then drained (the figure comparable with the bare loop's preloaded outbox), then a
steady rate at half the end-to-end throughput (latency from accept to the receiver's first byte)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.events.publish import publish
from interlink.keyring import load_keyring
from interlink.kit import signing
from interlink.kit.ids import new_id
from interlink.models import Tenant, WebhookDelivery, WebhookEndpoint, WorkerHeartbeat
from interlink.webhooks_out import secrets

KEYRING = "bench1:" + base64.b64encode(b"b" * 32).decode()
PUBLISHERS = 4
WORKER_CONCURRENCY = 32
# sends in flight to one endpoint (INTERLINK_WEBHOOK_ENDPOINT_CONCURRENCY; the product's default
# is 4 per worker process). The bare loop keeps up to 256 requests in flight to the receiver; at
# 32 a one-endpoint drain was bound by the share itself (a claim, 32 sends, their answers, the
# next claim: the endpoint idle for each claim's round trip): 0.55-0.70 of the bare loop in
# side-by-side runs, 0.70-0.86 at 64, 0.79-0.93 at 128. With ten endpoints the overall bound
# (256) applies first either way.
ENDPOINT_CONCURRENCY = 64
# a catalog type no internal subscriber listens to: S2 measures webhook fan-out alone
# ("order.created" would also queue a fulfillment job per event, which is not S2's subject)
EVENT_TYPE = "gallery.delivered"


@dataclass
class Receiver:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            return (await client.get(self.url(path))).json()

    async def reset(self) -> None:
        async with httpx.AsyncClient() as client:
            await client.post(self.url("/_reset"))


def settings_for(database_url: str) -> Settings:
    from interlink.app import import_job_modules

    settings = Settings(
        database_url=database_url,
        encryption_keys=KEYRING,
        webhook_allowed_networks=["127.0.0.0/8"],
        log_level="warning",
    )
    import_job_modules(settings)  # enqueue checks the job names
    return settings


def worker_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "INTERLINK_DATABASE_URL": database_url,
        "INTERLINK_ENCRYPTION_KEYS": KEYRING,
        "INTERLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "INTERLINK_WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "INTERLINK_WEBHOOK_ENDPOINT_CONCURRENCY": str(ENDPOINT_CONCURRENCY),
        # INTERLINK_DB_POOL_SIZE at its default (10, as many again in overflow): with wake-ups
        # shared between publishes the worker holds few connections at once, and a pool of 32
        # only kept ~7 MiB more of idle connections by the end of a run
        # INTERLINK_JOBS_POLL_INTERVAL at its default (1 s): the worker is woken by PostgreSQL
        # notifications and SQLite wake sockets, and polling faster only claims wake-up jobs that
        # the running dispatcher absorbs anyway
        "INTERLINK_LOG_LEVEL": "warning",
        "INTERLINK_LOG_FORMAT": "json",
    }


async def _setup(db: Database, settings: Settings, receiver: Receiver, endpoints: int) -> str:
    keyring = load_keyring(settings)
    async with db.session() as session:
        tenant = Tenant(id=new_id("ten"), name="bench", metadata_={})
        session.add(tenant)
        await session.flush()
        for n in range(endpoints):
            row = WebhookEndpoint(
                id=new_id("whep"),
                tenant_id=tenant.id,
                url=receiver.url(f"/hook/{n}"),
                mode="test",
                event_types=[],
                headers={},
                timeout_seconds=15,
                secret_last4="xxxx",  # noqa: S106 - a display hint, not a secret
                secret_sealed="",
            )
            row.secret_sealed = secrets.seal(keyring, row, signing.generate_secret())
            session.add(row)
        await session.commit()
    return tenant.id


def _data(n: int, size: int) -> dict[str, Any]:
    return {"object": {"id": f"ord_{n}", "status": "pending", "total": 15000, "pad": "x" * size}}


async def _publish_one(db: Database, tenant_id: str, n: int, size: int) -> tuple[str, float]:
    async with db.session() as session:
        event = await publish(session, tenant_id, EVENT_TYPE, _data(n, size))
        await session.commit()
    return event.id, time.time()


async def _wait_delivered(receiver: Receiver, expected: int, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        distinct = int((await receiver.get("/_stats"))["distinct"])
        if distinct >= expected or time.monotonic() > deadline:
            return distinct
        await asyncio.sleep(0.05)


async def _wait_for_worker(db: Database, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the interlink worker exited at start")
        async with db.read_session() as session:
            if await session.scalar(select(func.count()).select_from(WorkerHeartbeat)):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the interlink worker did not start within 30 s")


def _sqlite_write_lock_free(db: Database) -> bool:
    path = db.engine.url.database
    if not path:
        return True
    probe = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


async def _freeze(db: Database, proc: subprocess.Popen[bytes]) -> None:
    """SIGSTOP the worker, but never inside a SQLite write transaction: frozen with the write
    lock, it would stop the publishers for good (they wait out the busy timeout and fail)."""
    for _ in range(100):
        proc.send_signal(signal.SIGSTOP)
        if not db.is_sqlite or _sqlite_write_lock_free(db):
            return
        proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)
    raise RuntimeError("the worker kept SQLite's write lock for 5 s; it could not be frozen")


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def paced(
    rate: float, seconds: float, publish_one: Callable[[int], Awaitable[tuple[str, float]]]
) -> dict[str, float]:
    """``publish_one(n)`` for n = 0, 1, … at ``rate`` a second for ``seconds`` (at least once),
    each awaited before the next: event id -> the time it was accepted."""
    accepted: dict[str, float] = {}
    began = time.monotonic()
    for n in range(max(1, int(rate * seconds))):
        delay = began + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event_id, at = await publish_one(n)
        accepted[event_id] = at
    return accepted


async def _end_to_end(
    db: Database, tenant_id: str, receiver: Receiver, events: int, endpoints: int, size: int
) -> tuple[float, float, int]:
    """Four publishers write ``events`` while a worker delivers them: (deliveries/s from the
    first publish to the last arrival, events published per second, deliveries received)."""
    counter = iter(range(events))
    started = time.time()

    async def publisher() -> None:
        for n in counter:
            await _publish_one(db, tenant_id, n, size)

    await asyncio.gather(*(publisher() for _ in range(PUBLISHERS)))
    publish_rate = events / (time.time() - started)
    delivered = await _wait_delivered(receiver, events * endpoints, within=600)
    arrivals = await receiver.get("/_arrivals")
    last = max((row[2] for row in arrivals), default=time.time())
    return delivered / (last - started), publish_rate, delivered


async def _half_load(
    db: Database,
    tenant_id: str,
    receiver: Receiver,
    rate: float,
    steady_s: float,
    first: int,
    endpoints: int,
    size: int,
) -> tuple[list[float], int, int]:
    """Events published at ``rate`` a second for ``steady_s``: (accept → receiver latencies in
    ms, deliveries received, deliveries expected)."""
    await receiver.reset()
    steady = await paced(rate, steady_s, lambda n: _publish_one(db, tenant_id, first + n, size))
    expected = len(steady) * endpoints
    delivered = await _wait_delivered(receiver, expected, within=300)
    arrivals = await receiver.get("/_arrivals")
    latencies = [(row[2] - steady[row[1]]) * 1000 for row in arrivals if row[1] in steady]
    return latencies, delivered, expected


async def run_case(
    database_url: str, receiver: Receiver, events: int, endpoints: int, size: int, steady_s: float
) -> dict[str, Any]:
    settings = settings_for(database_url)
    db = Database(settings)
    await receiver.reset()
    tenant_id = await _setup(db, settings, receiver, endpoints)
    interlink_bin = str(Path(sys.executable).parent / "interlink")
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - started once, our own CLI
        [interlink_bin, "worker"],
        env=worker_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_for_worker(db, proc)
        # throughput: a backlog from four concurrent publishers
        throughput, publish_rate, delivered = await _end_to_end(
            db, tenant_id, receiver, events, endpoints, size
        )
        expected = events * endpoints

        # drain: a backlog of the same size published while the worker is frozen (SIGSTOP), then
        # delivered from the moment it resumes: the figure the bare loop's preloaded outbox
        # compares with (the end-to-end figure above also includes the publishers' own rate)
        await receiver.reset()
        await _freeze(db, proc)
        publish_cpu = time.process_time()
        try:
            backlog = iter(range(10**6, 10**6 + events))

            async def frozen_publisher() -> None:
                for n in backlog:
                    await _publish_one(db, tenant_id, n, size)

            await asyncio.gather(*(frozen_publisher() for _ in range(PUBLISHERS)))
        finally:
            # this process's CPU per published event (publish + commit, no worker running)
            publish_cpu = time.process_time() - publish_cpu
            worker_cpu = _cpu_seconds(proc.pid)
            resumed = time.time()
            proc.send_signal(signal.SIGCONT)
        drain_delivered = await _wait_delivered(receiver, expected, within=600)
        # the worker's CPU per delivery while it drains the backlog
        worker_cpu = _cpu_seconds(proc.pid) - worker_cpu
        drain_arrivals = await receiver.get("/_arrivals")
        drain_last = max((row[2] for row in drain_arrivals), default=time.time())
        drain = drain_delivered / max(1e-6, drain_last - resumed)

        # latency at half the end-to-end load
        rate = max(1.0, 0.5 * throughput / endpoints)
        latencies, steady_delivered, steady_expected = await _half_load(
            db, tenant_id, receiver, rate, steady_s, events, endpoints, size
        )
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20

        async with db.read_session() as session:
            rows = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.tenant_id == tenant_id)
            )
        published = 2 * expected + steady_expected
        received = delivered + drain_delivered + steady_delivered
        balanced = rows == published and received == published
        return {
            "endpoints": endpoints,
            "events": events,
            "deliveries": expected,
            "publish_events_per_s": round(publish_rate, 1),
            "deliveries_per_s": round(throughput, 1),
            "drain_deliveries_per_s": round(drain, 1),
            "steady_rate_events_per_s": round(rate, 1),
            "steady_deliveries": steady_expected,
            "latency_ms_p50": round(_percentile(latencies, 0.5), 2),
            "latency_ms_p99": round(_percentile(latencies, 0.99), 2),
            "latency_ms_mean": round(statistics.fmean(latencies), 2) if latencies else None,
            "worker_rss_mib": round(rss, 1),
            "worker_cpu_ms_per_delivery": round(1000 * worker_cpu / max(1, drain_delivered), 3),
            "publish_cpu_ms_per_event": round(1000 * publish_cpu / max(1, events), 3),
            "ledger": {
                "published": published,
                "delivery_rows": rows,
                "received_distinct": received,
                "balanced": balanced,
            },
        }
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await db.dispose()


async def run_embedded_case(
    database_url: str, receiver: Receiver, events: int, endpoints: int, size: int, steady_s: float
) -> dict[str, Any]:
    """S2 end to end and at half load with the worker in the publishers' process, as
    ``interlink serve`` runs it (SQLite's embedded default): publishers and worker share one
    ``Database``, so they queue for SQLite's one writing connection in the process instead of
    meeting in SQLite's busy handler across processes."""
    from interlink.jobs import manifest
    from interlink.jobs.worker import Worker
    from interlink.webhooks_out.client import close_shared_clients

    settings = settings_for(database_url).model_copy(
        update={
            "worker_concurrency": WORKER_CONCURRENCY,
            "webhook_endpoint_concurrency": ENDPOINT_CONCURRENCY,
        }
    )
    db = Database(settings)
    await receiver.reset()
    tenant_id = await _setup(db, settings, receiver, endpoints)
    manifest.import_modules(manifest.AT_START)
    worker = Worker(db, settings)
    await worker.start()
    try:
        throughput, _publish_rate, delivered = await _end_to_end(
            db, tenant_id, receiver, events, endpoints, size
        )
        rate = max(1.0, 0.5 * throughput / endpoints)
        latencies, steady_delivered, steady_expected = await _half_load(
            db, tenant_id, receiver, rate, steady_s, events, endpoints, size
        )
        return {
            "deliveries_per_s": round(throughput, 1),
            "steady_rate_events_per_s": round(rate, 1),
            "latency_ms_p50": round(_percentile(latencies, 0.5), 2),
            "latency_ms_p99": round(_percentile(latencies, 0.99), 2),
            "balanced": delivered == events * endpoints and steady_delivered == steady_expected,
        }
    finally:
        await worker.stop()
        await close_shared_clients()
        await db.dispose()
