"""``kill -9`` of a worker in the middle of a fan-out loses nothing (PostgreSQL, real processes)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.models import WebhookDelivery
from tests.webhooks_out.conftest import Receiver
from tests.webhooks_out.helpers import create_endpoint, publish, tenant

EVENTS = 200


def start_worker(
    settings: Settings, env: dict[str, str], repo_root: Path, log: Path
) -> subprocess.Popen[bytes]:
    worker_env = {
        **env,
        "INTERLINK_DATABASE_URL": settings.database_url,
        "INTERLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "INTERLINK_JOBS_LEASE_SECONDS": "2",
        "INTERLINK_JOBS_POLL_INTERVAL": "0.1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "interlink"), "worker"],
            env=worker_env,
            cwd=repo_root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
# several worker processes share the queue on PostgreSQL
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_kill_9_of_a_worker_mid_fan_out_loses_no_delivery(
    backend: str,
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    subprocess_env: dict[str, str],
    repo_root: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    key = await tenant(db)
    for name in ("a", "b", "c"):
        await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}/{name}"))
    for n in range(EVENTS):
        await publish(wh_client, key, data={"object": {"n": n}})
    expected = EVENTS * 3
    log = tmp_path / "workers.log"

    first = start_worker(wh_settings, subprocess_env, repo_root, log)
    try:
        deadline = time.monotonic() + 60
        while len(await receiver.log(f"/ok/{unique}/")) < expected // 5:
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the first worker delivered too little"
            await asyncio.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    delivered_before_kill = len(await receiver.log(f"/ok/{unique}/"))
    assert delivered_before_kill < expected, "the kill came too late to prove anything"

    second = start_worker(wh_settings, subprocess_env, repo_root, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            async with db.read_session() as session:
                statuses = (
                    await session.scalars(
                        select(WebhookDelivery.status).where(
                            WebhookDelivery.tenant_id == key.tenant_id
                        )
                    )
                ).all()
            if len(statuses) == expected and set(statuses) == {"succeeded"}:
                break
            assert second.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{len(statuses)} deliveries: {set(statuses)}"
            await asyncio.sleep(0.2)
    finally:
        stop(second)

    async with db.read_session() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.event_id).where(
                    WebhookDelivery.tenant_id == key.tenant_id
                )
            )
        ).all()
    event_of = {row[0]: row[1] for row in rows}
    received: dict[str, set[str]] = defaultdict(set)
    for request in await receiver.log(f"/ok/{unique}/"):
        received[request["headers"]["webhook-id"]].add(json.loads(request["body"])["id"])
    assert set(received) == set(event_of)
    # a delivery re-sent after the crash carries the same webhook-id and the same event
    assert all(ids == {event_of[wid]} for wid, ids in received.items())
    assert len({event_of[wid] for wid in received}) == EVENTS
