from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.registry import JobContext, bind_log
from interlink.models import Event, WebhookAttempt, WebhookDelivery
from interlink.webhooks_out.tasks import prune_history
from tests.webhooks_out.conftest import FakeClock, Receiver, free_port, run_due_jobs
from tests.webhooks_out.helpers import create_endpoint, publish, tenant


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exported")


async def test_metrics_report_queue_depth_outcomes_and_oldest_pending_age(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await create_endpoint(wh_client, key, f"http://127.0.0.1:{free_port()}/down")
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    fake_clock.advance(timedelta(seconds=3))

    text = (await wh_client.get("/metrics")).text
    assert metric(text, 'interlink_webhook_queue_deliveries{state="pending"}') == 1
    assert metric(text, 'interlink_webhook_queue_deliveries{state="succeeded"}') == 1
    assert metric(text, "interlink_webhook_oldest_pending_age_seconds") >= 3
    assert metric(text, 'interlink_webhook_deliveries_total{outcome="succeeded"}') >= 1
    assert metric(text, 'interlink_webhook_deliveries_total{outcome="retrying"}') >= 1
    assert metric(text, "interlink_webhook_attempt_duration_seconds_count") >= 2


async def test_retention_prunes_history_older_than_the_configured_age(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    fake_clock.advance(timedelta(days=29))
    await publish(wh_client, key, "order.updated")
    await run_due_jobs(db, wh_settings)
    fake_clock.advance(timedelta(days=2))

    async with db.session() as session:
        ctx = JobContext(
            job_id="job_test",
            name="webhooks.retention",
            attempt=1,
            max_attempts=1,
            db=db,
            settings=wh_settings,
            session=session,
        )
        ctx.log = bind_log(ctx)
        await prune_history(ctx)
        await session.commit()

    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookAttempt)) == 1
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
