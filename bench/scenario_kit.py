"""What S3 (backlog) and S4 (head-of-line) share: endpoints on the local receiver, an
``interlink worker`` process configured as in S2, publishing through ``events.publish`` (steady,
one event per transaction; or in bulk, many per transaction), and the receiver's ledger."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from bench import outbound
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.events.publish import publish
from interlink.keyring import load_keyring
from interlink.kit import signing
from interlink.kit.ids import new_id
from interlink.models import Tenant, WebhookDelivery, WebhookEndpoint
from interlink.webhooks_out import secrets


async def setup_endpoints(
    db: Database, settings: Settings, urls: list[str]
) -> tuple[str, list[str]]:
    """A tenant with one enabled endpoint per URL (subscribed to every type): its id and theirs."""
    keyring = load_keyring(settings)
    ids: list[str] = []
    async with db.session() as session:
        tenant = Tenant(id=new_id("ten"), name="bench", metadata_={})
        session.add(tenant)
        await session.flush()
        for url in urls:
            row = WebhookEndpoint(
                id=new_id("whep"),
                tenant_id=tenant.id,
                url=url,
                mode="test",
                event_types=[],
                headers={},
                timeout_seconds=15,
                secret_last4="xxxx",  # noqa: S106 - a display hint, not a secret
                secret_sealed="",
            )
            row.secret_sealed = secrets.seal(keyring, row, signing.generate_secret())
            session.add(row)
            ids.append(row.id)
        await session.commit()
    return tenant.id, ids


@asynccontextmanager
async def interlink_worker(
    database_url: str, db: Database, **env: str
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """One ``interlink worker`` process with S2's settings (``env`` overrides), started and
    heartbeating; stopped with SIGTERM on exit."""
    interlink_bin = str(Path(sys.executable).parent / "interlink")
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - started once, our own CLI
        [interlink_bin, "worker"],
        env={**outbound.worker_env(database_url), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await outbound._wait_for_worker(db, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def event_data(n: int, size: int) -> dict[str, Any]:
    return {"object": {"id": f"ord_{n}", "status": "pending", "total": 15000, "pad": "x" * size}}


async def publish_steady(
    db: Database, tenant_id: str, rate: float, seconds: float, first: int, size: int
) -> dict[str, float]:
    """Events at ``rate`` per second for ``seconds``, one per transaction (as a domain would):
    event id -> wall-clock time its transaction committed (accepted)."""

    async def publish_one(n: int) -> tuple[str, float]:
        async with db.session() as session:
            data = event_data(first + n, size)
            event = await publish(session, tenant_id, outbound.EVENT_TYPE, data)
            await session.commit()
        return event.id, time.time()

    return await outbound.paced(rate, seconds, publish_one)


async def publish_bulk(
    db: Database, tenant_id: str, events: int, first: int, size: int, per_tx: int
) -> int:
    """``events`` events through ``events.publish``, ``per_tx`` of them per transaction (an
    import or a batch job publishing many changes at once). A transaction that PostgreSQL ends
    as a deadlock victim is run again, as its caller would; the number of those is returned."""
    deadlocks = 0
    for start in range(0, events, per_tx):
        while True:
            try:
                async with db.session() as session:
                    for n in range(start, min(events, start + per_tx)):
                        data = event_data(first + n, size)
                        await publish(session, tenant_id, outbound.EVENT_TYPE, data)
                    await session.commit()
                break
            except DBAPIError as exc:
                if "deadlock" not in str(exc):
                    raise
                deadlocks += 1
    return deadlocks


async def delivery_rows(db: Database, tenant_id: str) -> dict[str, int]:
    """Delivery rows of the tenant by status."""
    async with db.read_session() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.status, func.count())
                .where(WebhookDelivery.tenant_id == tenant_id)
                .group_by(WebhookDelivery.status)
            )
        ).all()
    return {str(status): int(count) for status, count in rows}


async def endpoint_of_deliveries(db: Database, tenant_id: str) -> dict[str, str]:
    """Delivery id (the ``webhook-id`` the receiver saw) -> its endpoint id."""
    async with db.read_session() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.endpoint_id).where(
                    WebhookDelivery.tenant_id == tenant_id
                )
            )
        ).all()
    return {str(r[0]): str(r[1]) for r in rows}


async def wait_distinct(receiver: outbound.Receiver, expected: int, within: float) -> int:
    """Distinct ``webhook-id``s the receiver saw, once ``expected`` or after ``within`` s."""
    return await outbound._wait_delivered(receiver, expected, within)


def percentile(values: list[float], q: float) -> float:
    return outbound._percentile(values, q)
