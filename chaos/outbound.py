"""Scenario 1: events published through two ``interlink api`` processes and delivered by two
``interlink worker`` processes to several endpoints of a local receiver, while a random API or
worker process is killed with SIGKILL every few seconds and restarted.

Verdict: every accepted event reached every endpoint (one distinct ``webhook-id`` per event and
endpoint: a repeat is only ever the same ``webhook-id`` again), and no job is stuck."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import text

from chaos.processes import Replica, free_port
from interlink.auth import service as keys_service
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.tenants import service as tenants_service
from interlink.tenants.schemas import TenantCreate

ENDPOINTS = 4


async def _admin_key(db: Database) -> str:
    async with db.session() as session:
        tenant = await tenants_service.create(session, TenantCreate(name="Chaos"))
        issued = await keys_service.issue(
            session, tenant_id=tenant.id, scopes=["admin"], mode="test"
        )
        await session.commit()
    return issued.key


async def _publish(
    apis: list[Replica], headers: dict[str, str], n: int, accepted: set[str], stats: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(n):
            key = secrets.token_hex(12)  # the same key on every retry of this event
            body = {"type": "order.created", "data": {"object": {"id": f"ord_{i}", "n": i}}}
            while True:
                api = random.choice([a for a in apis if a.alive] or apis)
                try:
                    response = await client.post(
                        f"http://127.0.0.1:{api.port}/v1/events",
                        json=body,
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    stats["publish_retries"] += 1
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code in (200, 201):
                    accepted.add(response.json()["id"])
                    break
                if response.status_code == 409:
                    # the first try died with its API and its key stays locked (5 minutes, by
                    # design); publish under a new key: if the first try committed, its event is
                    # in the database and the ledger below expects it delivered all the same
                    key = secrets.token_hex(12)
                    stats["new_key_after_a_killed_request"] += 1
                    continue
                stats["publish_retries"] += 1
                await asyncio.sleep(0.05)


async def _killer(replicas: list[Replica], every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every * random.uniform(0.5, 1.5))
            return
        except TimeoutError:
            pass
        victim = random.choice(replicas)
        victim.kill()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(victim.start)


async def run(database_url: str, receiver_port: int, quick: bool, logdir: str) -> dict[str, Any]:
    events = 1500 if quick else 10_000
    settings = Settings(database_url=database_url, encryption_keys=KEYRING)
    db = Database(settings)
    key = await _admin_key(db)
    headers = {"Authorization": f"Bearer {key}"}
    env = replica_env(database_url)
    apis = [
        Replica(f"api{i}", [], env, port=free_port(), log=f"{logdir}/api{i}.log") for i in range(2)
    ]
    for api in apis:
        api.args = ["api", "--port", str(api.port)]
    workers = [
        Replica(f"worker{i}", ["worker"], env, log=f"{logdir}/worker{i}.log") for i in range(2)
    ]
    everyone = apis + workers
    for replica in everyone:
        await asyncio.to_thread(replica.start)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{apis[0].port}") as client:
            for i in range(ENDPOINTS):
                created = await client.post(
                    "/v1/webhooks",
                    json={"url": f"http://127.0.0.1:{receiver_port}/e{i}"},
                    headers=headers,
                )
                created.raise_for_status()
            await client.post(f"http://127.0.0.1:{receiver_port}/_reset")
        accepted: set[str] = set()
        stats: dict[str, int] = defaultdict(int)
        stop = asyncio.Event()
        started = time.monotonic()
        killer = asyncio.create_task(_killer(everyone, 3.0, stop))
        publishers = 4
        await asyncio.gather(
            *(
                _publish(apis, headers, events // publishers, accepted, stats)
                for _ in range(publishers)
            )
        )
        stop.set()
        await killer
        published_s = time.monotonic() - started
        for replica in everyone:
            if not replica.alive:
                await asyncio.to_thread(replica.start)
        async with db.read_session() as session:
            committed = (
                await session.execute(
                    text("SELECT count(*) FROM events WHERE type = 'order.created'")
                )
            ).scalar_one()
        expected = max(len(accepted), int(committed)) * ENDPOINTS
        arrivals = await _wait_for(receiver_port, expected, within=120 if quick else 900)
        drained_s = time.monotonic() - started
        verdict = await _verdict(db, accepted, arrivals)
    finally:
        for replica in everyone:
            replica.stop()
        await db.dispose()
    return {
        "scenario": "chaos: outbound delivery under SIGKILL",
        "events_published": events - events % publishers,
        "events_accepted": len(accepted),
        "endpoints": ENDPOINTS,
        "expected_deliveries": expected,
        "kills": {r.name: r.kills for r in everyone},
        "publish_retries": stats["publish_retries"],
        "new_key_after_a_killed_request": stats["new_key_after_a_killed_request"],
        "publish_seconds": round(published_s, 1),
        "drained_seconds": round(drained_s, 1),
        "deliveries_per_s": round(expected / drained_s, 1),
        **verdict,
    }


KEYRING = "chaos:" + "Y2hhb3MtY2hhb3MtY2hhb3MtY2hhb3MtY2hhb3MtMTI="


def replica_env(database_url: str) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "INTERLINK_DATABASE_URL": database_url,
        "INTERLINK_ENCRYPTION_KEYS": KEYRING,
        "INTERLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "INTERLINK_RATE_LIMIT_DEFAULT": "1000000/second",
        "INTERLINK_JOBS_LEASE_SECONDS": "5",
        "INTERLINK_LOG_LEVEL": "warning",
        "INTERLINK_LOG_FORMAT": "json",
    }


async def _wait_for(port: int, expected: int, within: float) -> list[list[Any]]:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            rows: list[list[Any]] = (await client.get(f"http://127.0.0.1:{port}/_arrivals")).json()
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(1)


async def _verdict(db: Database, accepted: set[str], arrivals: list[list[Any]]) -> dict[str, Any]:
    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for msg_id, event_id, _at in arrivals:
        ids_per_event[event_id].add(msg_id)
    async with db.read_session() as session:
        committed = set(
            (await session.execute(text("SELECT id FROM events WHERE type = 'order.created'")))
            .scalars()
            .all()
        )
    # every committed event counts, also one whose answer died with its API process
    missing = [e for e in committed | accepted if len(ids_per_event.get(e, ())) < ENDPOINTS]
    duplicated_with_new_id = [e for e, ids in ids_per_event.items() if len(ids) > ENDPOINTS]
    unknown = [e for e in ids_per_event if e not in committed]
    lost_acceptances = accepted - committed
    async with db.read_session() as session:
        stuck = (
            await session.execute(
                text(
                    "SELECT count(*) FROM jobs WHERE (state = 'running' AND lease_expires_at < "
                    "now() - interval '30 seconds') OR (state = 'queued' AND run_at < now() - "
                    "interval '60 seconds')"
                )
            )
        ).scalar_one()
        dead = (
            await session.execute(text("SELECT count(*) FROM jobs WHERE state = 'dead'"))
        ).scalar_one()
    passed = (
        not missing
        and not duplicated_with_new_id
        and not unknown
        and not lost_acceptances
        and stuck == 0
    )
    return {
        "verdict": "PASS" if passed else "FAIL",
        "events_committed": len(committed),
        "accepted_events_not_in_the_database": len(lost_acceptances),
        "events_missing_a_delivery": len(missing),
        "events_delivered_under_two_ids": len(duplicated_with_new_id),
        "deliveries_of_unaccepted_events": len(unknown),
        "jobs_stuck": int(stuck),
        "jobs_dead": int(dead),
        "examples_missing": missing[:5],
    }
