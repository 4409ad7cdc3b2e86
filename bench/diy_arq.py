"""S2 beside Interlink: what a team would build instead. An arq task (asyncio, Redis) per delivery
that signs the body the Standard Webhooks way (HMAC-SHA256 over ``id.timestamp.body``, the
``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` headers) and POSTs it with aiohttp
to the same local receiver, retried by arq (``Retry`` with a growing delay) on a failure.

Measured exactly as Interlink's S2 case (``bench/outbound.py``): the same events (about 1 KiB,
the same envelope), to 1 and to 10 endpoints; four publishers enqueue while the worker runs
(end-to-end throughput), then a backlog is enqueued while the worker is frozen (SIGSTOP) and
drained, then a steady rate at half the end-to-end throughput gives the latency from "accepted"
(every ``enqueue_job`` of the event returned) to the receiver's first byte. The worker is a real
separate process (``python -m bench.diy_arq``) with as many jobs in flight as Interlink's worker
(32) and the same poll interval (0.05 s; arq's default is 0.5 s). The receiver's ledger of
distinct ``webhook-id``s must equal the tasks enqueued, or the case is void.

What it does not do, and Interlink does: no transaction with the caller's data (an enqueue after a
commit can be lost, one before it can announce a change that rolled back), no durable history of
attempts, no per-endpoint concurrency or rate limit, no SSRF guard, no disabling of a failing
endpoint, and Redis acknowledges an enqueue before it is on disk (``appendfsync everysec`` at best).

Redis isolation: database 13 of ``INTERLINK_BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/13``), a queue name and job ids unique to the run; afterwards every key
holding the run's token is deleted (no FLUSHDB, no FLUSHALL)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import signal
import statistics
import sys
import time
from typing import Any

import aiohttp
import orjson

from bench import outbound, scenario_kit
from interlink.kit.clock import now, rfc3339

REDIS_URL = os.environ.get("INTERLINK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CONCURRENCY = outbound.WORKER_CONCURRENCY
# arq's only way to see new jobs is polling (Interlink's worker is woken by notifications): a
# short poll is its fastest reasonable setting (its default is 0.5 s)
POLL_DELAY = 0.05
MAX_TRIES = 10
TIMEOUT = 15


def _sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def deliver(ctx: dict[str, Any], msg_id: str, url: str, secret: bytes, event: Any) -> int:
    """The task: one signed POST; a non-2xx answer or a network error is retried by arq."""
    from arq import Retry

    body = orjson.dumps(event)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": _sign(secret, msg_id, timestamp, body),
    }
    delay = min(3600, 5 * 2 ** (ctx["job_try"] - 1))
    try:
        async with ctx["http"].post(url, data=body, headers=headers) as response:
            await response.read()
            status = int(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Retry(defer=delay) from exc
    if not 200 <= status < 300:
        raise Retry(defer=delay)
    return status


def worker_main(queue: str, redis_url: str, concurrency: int) -> None:
    """The worker process: arq's own ``Worker`` with the delivery task."""
    from arq.connections import RedisSettings
    from arq.worker import Worker

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["http"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
        )
        sys.stdout.write("READY\n")
        sys.stdout.flush()

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["http"].close()

    worker = Worker(
        functions=[deliver],
        queue_name=queue,
        redis_settings=RedisSettings.from_dsn(redis_url),
        max_jobs=concurrency,
        keep_result=0,
        poll_delay=POLL_DELAY,
        max_tries=MAX_TRIES,
        on_startup=startup,
        on_shutdown=shutdown,
        log_results=False,
    )
    worker.run()


async def reachable(redis_url: str = REDIS_URL) -> str | None:
    """``None`` when arq is installed and Redis answers, else why not."""
    try:
        import arq  # noqa: F401
    except ImportError:
        return "arq is not installed (pip install -e '.[bench]')"
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis unreachable at {redis_url}: {type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return None


async def _cleanup(redis_url: str, token: str) -> int:
    """Delete every key of this run (they all hold its token); the number deleted."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"*{token}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.delete(*batch))
                batch = []
        if batch:
            deleted += int(await client.delete(*batch))
    finally:
        await client.aclose()
    return deleted


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _start_worker(queue: str, redis_url: str) -> _Worker:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.diy_arq",
        "--queue",
        queue,
        "--redis",
        redis_url,
        "--concurrency",
        str(CONCURRENCY),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    worker = _Worker(proc)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    except TimeoutError:
        line = b""
    if line.strip() != b"READY":
        await worker.stop()
        raise RuntimeError(f"the arq worker did not start: {line!r}")
    return worker


def _envelope(token: str, n: int, size: int) -> dict[str, Any]:
    return {
        "id": f"evt_diy_{token}_{n}",
        "type": outbound.EVENT_TYPE,
        "created": rfc3339(now()),
        "tenant": "ten_diy",
        "data": scenario_kit.event_data(n, size),
    }


async def run_case(
    receiver: outbound.Receiver,
    events: int,
    endpoints: int,
    size: int,
    steady_s: float,
    redis_url: str = REDIS_URL,
) -> dict[str, Any]:
    """One S2 case (``events`` times ``endpoints``) delivered by an arq worker over Redis."""
    import psutil
    from arq.connections import RedisSettings, create_pool

    token = secrets.token_hex(6)
    queue = f"interlink-bench:diy:{token}"
    targets = [
        (receiver.url(f"/diy/{token}/{e}"), secrets.token_bytes(32)) for e in range(endpoints)
    ]
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue)
    worker: _Worker | None = None
    try:
        await receiver.reset()
        worker = await _start_worker(queue, redis_url)

        async def publish_one(n: int) -> tuple[str, float]:
            event = _envelope(token, n, size)
            for e, (url, secret) in enumerate(targets):
                msg_id = f"msg_diy_{token}_{n}_{e}"
                await pool.enqueue_job("deliver", msg_id, url, secret, event, _job_id=msg_id)
            return event["id"], time.time()

        # throughput: four publishers while the worker runs
        counter = iter(range(events))
        started = time.time()

        async def publisher() -> None:
            for n in counter:
                await publish_one(n)

        await asyncio.gather(*(publisher() for _ in range(outbound.PUBLISHERS)))
        publish_rate = events / (time.time() - started)
        expected = events * endpoints
        delivered = await scenario_kit.wait_distinct(receiver, expected, within=600)
        arrivals = await receiver.get("/_arrivals")
        last = max((row[2] for row in arrivals), default=time.time())
        throughput = delivered / (last - started)

        # drain: a backlog enqueued while the worker is frozen, delivered once it resumes
        await receiver.reset()
        worker.proc.send_signal(signal.SIGSTOP)
        try:
            backlog = iter(range(10**6, 10**6 + events))

            async def frozen_publisher() -> None:
                for n in backlog:
                    await publish_one(n)

            await asyncio.gather(*(frozen_publisher() for _ in range(outbound.PUBLISHERS)))
        finally:
            resumed = time.time()
            worker.proc.send_signal(signal.SIGCONT)
        drain_delivered = await scenario_kit.wait_distinct(receiver, expected, within=600)
        drain_arrivals = await receiver.get("/_arrivals")
        drain_last = max((row[2] for row in drain_arrivals), default=time.time())
        drain = drain_delivered / max(1e-6, drain_last - resumed)

        # latency at half the end-to-end load
        await receiver.reset()
        rate = max(1.0, 0.5 * throughput / endpoints)
        steady = await outbound.paced(rate, steady_s, lambda n: publish_one(2 * 10**6 + n))
        steady_expected = len(steady) * endpoints
        steady_delivered = await scenario_kit.wait_distinct(receiver, steady_expected, within=300)
        steady_arrivals = await receiver.get("/_arrivals")
        latencies = [
            (row[2] - steady[row[1]]) * 1000 for row in steady_arrivals if row[1] in steady
        ]
        rss = psutil.Process(worker.proc.pid).memory_info().rss / 2**20
        queued_left = int(await pool.zcard(queue))
        published = 2 * expected + steady_expected
        received = delivered + drain_delivered + steady_delivered
        balanced = received == published and queued_left == 0
        return {
            "endpoints": endpoints,
            "events": events,
            "deliveries": expected,
            "publish_events_per_s": round(publish_rate, 1),
            "deliveries_per_s": round(throughput, 1),
            "drain_deliveries_per_s": round(drain, 1),
            "steady_rate_events_per_s": round(rate, 1),
            "steady_deliveries": steady_expected,
            "latency_ms_p50": round(scenario_kit.percentile(latencies, 0.5), 2),
            "latency_ms_p99": round(scenario_kit.percentile(latencies, 0.99), 2),
            "latency_ms_mean": round(statistics.fmean(latencies), 2) if latencies else None,
            "worker_rss_mib": round(rss, 1),
            "ledger": {
                "published": published,
                "received_distinct": received,
                "left_in_queue": queued_left,
                "balanced": balanced,
            },
            "void": not balanced,
        }
    finally:
        if worker is not None:
            await worker.stop()
        await pool.aclose()
        await _cleanup(redis_url, token)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.diy_arq")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()
    worker_main(args.queue, args.redis, args.concurrency)


if __name__ == "__main__":
    main()
