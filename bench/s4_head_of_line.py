"""S4 head-of-line: one endpoint answering in 2 s among fast ones. The fast endpoints' latency
(accept → the receiver's first byte) is measured three times in one worker process, at the same
steady rate: with no slow endpoint subscribed; with a slow endpoint on another host (a second
receiver process on another port, which the HTTP client pools as another host); with a slow
endpoint on the fast ones' own host and port, where it also competes for the delivery client's
per-host connections. (The fan-out skips an endpoint not subscribed to the type; its queued
deliveries are still sent, and waited for between phases.) The figures are the fast endpoints'
p99 with the slow one as a ratio to their p99 without it: ~1 when a slow endpoint holds nothing
but its own share of the sends.

The rate is above what the slow endpoint can take (32 sends in flight over 2 s: 16/s), so its
rows pile up as due rows that the dispatcher must step over: the head-of-line case."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import update

from bench import outbound, scenario_kit
from interlink.db.engine import Database
from interlink.models import WebhookEndpoint

FAST = 4
SLOW_MS = 2000
# 32 sends in flight per endpoint (S2 gives 64), so the slow one takes 16 deliveries/s: at RATE it
# would need 40 in flight, its share is always full and the dispatcher's claims leave it out
ENDPOINT_CONCURRENCY = 32
RATE = 20.0  # events/s, each to every enabled endpoint: more than the slow one can take
UNSUBSCRIBED = "bench.not_published"


async def _subscribe(db: Database, endpoint_id: str, subscribed: bool) -> None:
    """Subscribe the endpoint to every type, or to none the bench publishes. Unlike disabling,
    unsubscribing leaves its queued deliveries to be sent."""
    types = [] if subscribed else [UNSUBSCRIBED]
    async with db.session() as session:
        stmt = update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        await session.execute(stmt.values(event_types=types))
        await session.commit()


async def _phase(
    db: Database,
    receiver: outbound.Receiver,
    tenant_id: str,
    fast_ids: set[str],
    seconds: float,
    first: int,
    size: int,
) -> dict[str, Any]:
    """Fast endpoints' latencies of events published at ``RATE`` for ``seconds``."""
    await receiver.reset()
    accepted = await scenario_kit.publish_steady(db, tenant_id, RATE, seconds, first, size)
    expected = len(accepted) * len(fast_ids)
    # the delivery rows were written with their events: every webhook-id's endpoint is known
    owners = await scenario_kit.endpoint_of_deliveries(db, tenant_id)
    # wait for the fast endpoints' deliveries only (the slow one's may still be coming)
    until = time.monotonic() + 120
    arrivals: list[Any] = []
    while time.monotonic() < until:
        arrivals = [
            row for row in await receiver.get("/_arrivals") if owners.get(row[0]) in fast_ids
        ]
        if len(arrivals) >= expected:
            break
        await asyncio.sleep(0.1)
    latencies = [(row[2] - accepted[row[1]]) * 1000 for row in arrivals if row[1] in accepted]
    return {
        "events": len(accepted),
        "fast_deliveries": expected,
        "fast_received": len(arrivals),
        "fast_ms_p50": round(scenario_kit.percentile(latencies, 0.5), 2),
        "fast_ms_p99": round(scenario_kit.percentile(latencies, 0.99), 2),
        "fast_ms_max": round(max(latencies), 2) if latencies else None,
        "fast_ms_mean": round(statistics.fmean(latencies), 2) if latencies else None,
    }


async def _slow_phase(
    db: Database,
    receivers: tuple[outbound.Receiver, outbound.Receiver],
    tenant_id: str,
    fast_ids: set[str],
    slow_id: str,
    seconds: float,
    first: int,
    size: int,
) -> dict[str, Any]:
    """A phase with ``slow_id`` subscribed; unsubscribed again, it is waited for until its
    deliveries arrived (the next phase starts without them in flight)."""
    receiver, other = receivers
    await _subscribe(db, slow_id, True)
    found = await _phase(db, receiver, tenant_id, fast_ids, seconds, first, size)
    await _subscribe(db, slow_id, False)
    owners = await scenario_kit.endpoint_of_deliveries(db, tenant_id)
    slow_rows = {d for d, e in owners.items() if e == slow_id}
    until = time.monotonic() + 120
    received = 0
    while time.monotonic() < until:
        seen = [row[0] for row in await receiver.get("/_arrivals")]
        seen += [row[0] for row in await other.get("/_arrivals")]
        received = len(slow_rows.intersection(seen))
        if received >= len(slow_rows):
            break
        await asyncio.sleep(0.2)
    return found | {"slow_deliveries": len(slow_rows), "slow_received": received}


async def run(
    database_url: str,
    receiver: outbound.Receiver,
    other: outbound.Receiver,
    seconds: float,
    size: int,
) -> dict[str, Any]:
    """Three phases: no slow endpoint; a slow endpoint on another host (``other``, another
    receiver process: its own connections); a slow endpoint on the fast ones' host and port."""
    settings = outbound.settings_for(database_url)
    db = Database(settings)
    try:
        urls = [receiver.url(f"/s4/fast/{n}") for n in range(FAST)]
        urls.append(other.url(f"/slow/{SLOW_MS}/s4"))
        urls.append(receiver.url(f"/slow/{SLOW_MS}/s4"))
        tenant_id, ids = await scenario_kit.setup_endpoints(db, settings, urls)
        fast_ids, slow_other, slow_same = set(ids[:FAST]), ids[FAST], ids[FAST + 1]
        await _subscribe(db, slow_other, False)
        await _subscribe(db, slow_same, False)
        await other.reset()
        pair = (receiver, other)
        async with scenario_kit.interlink_worker(
            database_url, db, INTERLINK_WEBHOOK_ENDPOINT_CONCURRENCY=str(ENDPOINT_CONCURRENCY)
        ):
            # a discarded warm-up first: the first phase must not pay for the worker's and the
            # connections' first use (it is the denominator of every ratio)
            warm = await _phase(
                db, receiver, tenant_id, fast_ids, min(1.0, seconds), 3 * 10**6, size
            )
            without = await _phase(db, receiver, tenant_id, fast_ids, seconds, 0, size)
            other_host = await _slow_phase(
                db, pair, tenant_id, fast_ids, slow_other, seconds, 10**6, size
            )
            same_host = await _slow_phase(
                db, pair, tenant_id, fast_ids, slow_same, seconds, 2 * 10**6, size
            )
        rows = await scenario_kit.delivery_rows(db, tenant_id)
        published = (without["events"] + other_host["events"] + same_host["events"]) * FAST
        published += other_host["events"] + same_host["events"] + warm["events"] * FAST
        phases = (warm, without, other_host, same_host)
        received = sum(p["fast_received"] for p in phases)
        received += other_host["slow_received"] + same_host["slow_received"]

        def ratio(phase: dict[str, Any], key: str) -> float | None:
            return round(phase[key] / without[key], 3) if without[key] else None

        return {
            "fast_endpoints": FAST,
            "slow_endpoint_ms": SLOW_MS,
            "endpoint_concurrency": ENDPOINT_CONCURRENCY,
            "rate_events_per_s": RATE,
            "seconds_per_phase": seconds,
            "without_slow": without,
            "slow_on_other_host": other_host,
            "slow_on_same_host": same_host,
            "fast_p99_ratio": ratio(other_host, "fast_ms_p99"),
            "fast_p50_ratio": ratio(other_host, "fast_ms_p50"),
            "fast_p99_ratio_same_host": ratio(same_host, "fast_ms_p99"),
            "fast_p50_ratio_same_host": ratio(same_host, "fast_ms_p50"),
            "ledger": {
                "published": published,
                "delivery_rows": sum(rows.values()),
                "by_status": rows,
                "received_distinct": received,
                "balanced": sum(rows.values()) == published
                and rows.get("succeeded", 0) == published
                and received == published,
            },
        }
    finally:
        await db.dispose()
