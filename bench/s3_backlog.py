"""S3 backlog: the receiver is down while a backlog is queued, then comes back; the figure is the
drain rate (deliveries/s from the first delivery after its return until every delivery arrived)
as a ratio to the bare durable loop draining as many preloaded rows in the same run and database.
The wait between the return and that first delivery (at most ``Retry-After``) is reported beside
it as ``recovery_s``, and the rate from the return itself as ``drain_deliveries_per_s``.

The backlog is published through ``events.publish`` while the worker runs, ``PER_TX`` events per
transaction, each to ``ENDPOINTS`` endpoints. "Down" is the receiver answering ``503`` with
``Retry-After: 3`` on every endpoint's URL (``/flaky/...``). That is Interlink's mechanism that
keeps the run short: a throttling answer with ``Retry-After`` pauses the endpoint
(``paused_until``) instead of applying the retry schedule (5 s, 5 min, 30 min, ...), and while it
is paused the dispatcher moves its due rows to the end of the pause in one statement, spending
no attempt on them; a refused delivery itself is retried after ``Retry-After`` too. The pause
starts when a refusal is recorded, so the sends made before that are refused as well
(``refused_requests``: with a fast publisher, possibly the whole backlog once). A plain
connection refusal would put every delivery on the schedule instead (its second attempt 5
minutes after the first)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select

from bench import baseline, outbound, scenario_kit
from interlink.db.engine import Database
from interlink.models import WebhookAttempt

ENDPOINTS = 10
RETRY_AFTER = 3
PER_TX = 100  # events per publishing transaction


async def _refused_attempts(db: Database, tenant_id: str) -> int:
    async with db.read_session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(WebhookAttempt)
                .where(WebhookAttempt.tenant_id == tenant_id, WebhookAttempt.succeeded.is_(False))
            )
            or 0
        )


async def run(
    database_url: str, raw: str, receiver: outbound.Receiver, deliveries: int, size: int
) -> dict[str, Any]:
    settings = outbound.settings_for(database_url)
    db = Database(settings)
    events = max(1, deliveries // ENDPOINTS)
    total = events * ENDPOINTS
    try:
        urls = [receiver.url(f"/flaky/s3/{n}") for n in range(ENDPOINTS)]
        tenant_id, _ids = await scenario_kit.setup_endpoints(db, settings, urls)
        await receiver.reset()
        async with httpx.AsyncClient() as http:
            await http.post(receiver.url("/_down"), params={"retry_after": str(RETRY_AFTER)})
        async with scenario_kit.interlink_worker(database_url, db) as proc:
            began = time.monotonic()
            deadlocks = await scenario_kit.publish_bulk(db, tenant_id, events, 0, size, PER_TX)
            publish_s = time.monotonic() - began
            # down a little longer than the publishing: every endpoint has been refused and
            # paused, and the sends refused have been answered
            await asyncio.sleep(1.0)
            queued = await scenario_kit.delivery_rows(db, tenant_id)
            down_s = time.monotonic() - began
            worker = psutil.Process(proc.pid)
            cpu_before = sum(worker.cpu_times()[:2])
            async with httpx.AsyncClient() as http:
                up = (await http.post(receiver.url("/_down"), params={"up": "1"})).json()
            delivered = await scenario_kit.wait_distinct(receiver, total, within=1800)
            cpu_drain = sum(worker.cpu_times()[:2]) - cpu_before
            arrivals = await receiver.get("/_arrivals")
            # the worker records outcomes behind its sends: let it catch up before the ledger
            until = time.monotonic() + 60
            while time.monotonic() < until:
                rows = await scenario_kit.delivery_rows(db, tenant_id)
                if rows.get("succeeded", 0) >= total:
                    break
                await asyncio.sleep(0.2)
        first = min((row[2] for row in arrivals), default=up["at"])
        last = max((row[2] for row in arrivals), default=up["at"])
        refused_attempts = await _refused_attempts(db, tenant_id)
        drain = delivered / max(1e-6, last - up["at"])
        flowing = delivered / max(1e-6, last - first)  # the figure: once the pause is over

        # the bare loop, draining as many preloaded rows in the same database
        await receiver.reset()
        if settings.is_sqlite:
            bare = await baseline.run_sqlite(raw, receiver.url("/base"), total, size)
        else:
            bare = await baseline.run_postgres(raw, receiver.url("/base"), total, size)
        bare_balanced = (await receiver.get("/_stats"))["distinct"] == total
        balanced = (
            sum(rows.values()) == total and rows.get("succeeded", 0) == total and delivered == total
        )
        return {
            "endpoints": ENDPOINTS,
            "events": events,
            "deliveries": total,
            "mechanism": (
                f"receiver answers 503 with Retry-After: {RETRY_AFTER} while down; Interlink "
                "honours it instead of its 5 s / 5 min / 30 min schedule: a refused delivery is "
                "retried after Retry-After, and the endpoint is paused (paused_until) so its "
                "other due rows wait for the pause without spending attempts"
            ),
            "publish_events_per_s": round(events / publish_s, 1),
            "publish_deadlocks_retried": deadlocks,
            "down_s": round(down_s, 1),
            "queued_when_back": queued,
            "refused_requests": up["refused"],
            "refused_attempts_recorded": refused_attempts,
            "recovery_s": round(first - up["at"], 3),
            "drain_s": round(last - up["at"], 2),
            "drain_deliveries_per_s": round(drain, 1),
            "drain_from_first_arrival_per_s": round(flowing, 1),
            "worker_cpu_ms_per_delivery_drain": round(1000 * cpu_drain / max(1, delivered), 2),
            "bare_loop_deliveries_per_s": round(bare, 1),
            "bare_loop_balanced": bare_balanced,
            "ratio_vs_bare_loop": round(flowing / bare, 3),
            "ledger": {
                "published": total,
                "delivery_rows": sum(rows.values()),
                "by_status": rows,
                "received_distinct": delivered,
                "balanced": balanced,
            },
            "void": not balanced,
        }
    finally:
        await db.dispose()
