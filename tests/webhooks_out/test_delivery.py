"""Deliveries against a real receiver process: outcomes, schedule, disabling and recovery."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta

import httpx
import standardwebhooks

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.webhooks_out.schedule import DELAYS, MAX_ATTEMPTS
from tests.conftest import make_settings
from tests.webhooks_out.conftest import ALLOW_LOOPBACK, FakeClock, Receiver, free_port, run_due_jobs
from tests.webhooks_out.helpers import (
    create_endpoint,
    deliveries,
    only_delivery,
    publish,
    tenant,
)


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_delivery_to_healthy_endpoint_verifies_with_standard_webhooks(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    event = await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    [request] = await receiver.log(f"/ok/{unique}")
    verified = standardwebhooks.Webhook(endpoint["secret"]).verify(
        request["body"], request["headers"]
    )
    assert verified["id"] == event["id"]
    assert verified["type"] == "order.created"
    assert verified["tenant"] == key.tenant_id
    assert verified["data"] == {"object": {"id": "ord_1", "total": 1500}}
    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert request["headers"]["webhook-id"] == delivery["id"]
    assert delivery["status"] == "succeeded"
    [attempt] = delivery["attempt_history"]
    assert attempt["status_code"] == 200
    assert attempt["succeeded"] is True
    assert attempt["response_body"] == "ok"
    assert attempt["duration_ms"] >= 0


async def test_failed_attempt_is_retried_on_schedule_with_the_same_webhook_id(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/flaky/{unique}"))
    await publish(wh_client, key)
    started = fake_clock()

    await run_due_jobs(db, wh_settings)
    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1
    assert delivery["attempt_history"][0]["status_code"] == 500
    assert delivery["attempt_history"][0]["error_class"] == "http_status"
    delay = ts(delivery["next_attempt_at"]) - started
    assert timedelta(seconds=4.5) <= delay <= timedelta(seconds=5.5)

    assert await run_due_jobs(db, wh_settings) == 0  # not due yet
    fake_clock.set(ts(delivery["next_attempt_at"]))
    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempt_history"]] == [500, 200]
    requests = await receiver.log(f"/flaky/{unique}")
    assert [r["headers"]["webhook-id"] for r in requests] == [delivery["id"]] * 2


async def test_timeout_is_a_failed_attempt(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(
        wh_client, key, receiver.url(f"/timeout/{unique}"), timeout_seconds=1
    )
    await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    [attempt] = delivery["attempt_history"]
    assert attempt["error_class"] == "timeout"
    assert attempt["status_code"] is None
    assert 900 <= attempt["duration_ms"] < 5000
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None


async def test_endpoint_answering_410_is_disabled_and_an_event_says_so(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/gone/{unique}"))
    watcher = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}"), event_types=["webhook_endpoint.*"]
    )
    await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    got = (await wh_client.get(f"/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got["enabled"] is False
    assert "410" in got["disabled_reason"]
    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    [notice] = await receiver.log(f"/ok/{unique}")
    payload = standardwebhooks.Webhook(watcher["secret"]).verify(notice["body"], notice["headers"])
    assert payload["type"] == "webhook_endpoint.disabled"
    assert payload["data"]["object"]["id"] == endpoint["id"]
    # a disabled endpoint receives nothing new
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    assert len(await deliveries(wh_client, key, endpoint["id"])) == 1


async def test_429_with_retry_after_pauses_the_endpoint_until_then(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/throttle/{unique}"))
    await publish(wh_client, key)
    started = fake_clock()

    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["attempt_history"][0]["status_code"] == 429
    assert ts(delivery["next_attempt_at"]) - started == timedelta(seconds=120)
    # a second event published meanwhile waits for the pause too
    await publish(wh_client, key, "order.updated")
    await run_due_jobs(db, wh_settings)
    assert len(await receiver.log(f"/throttle/{unique}")) == 1
    fake_clock.advance(timedelta(seconds=121))
    await run_due_jobs(db, wh_settings)
    assert len(await receiver.log(f"/throttle/{unique}")) == 3


async def test_a_throttling_answer_stops_further_sends_to_the_endpoint_in_the_same_run(
    db: Database,
    wh_client: httpx.AsyncClient,
    settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    # one send at a time to the endpoint: each next claim comes right after the previous answer,
    # before that answer's pause is recorded in the database
    serial = make_settings(
        settings.database_url,
        webhook_allowed_networks=ALLOW_LOOPBACK,
        webhook_dispatch_linger_seconds=0,
        webhook_endpoint_concurrency=1,
    )
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/throttle/{unique}"))
    for _ in range(8):
        await publish(wh_client, key)

    await run_due_jobs(db, serial)

    assert len(await receiver.log(f"/throttle/{unique}")) == 1
    found = await deliveries(wh_client, key, endpoint["id"])
    assert len(found) == 8
    assert all(d["status"] == "pending" for d in found)
    fake_clock.advance(timedelta(seconds=121))
    await run_due_jobs(db, serial)
    assert len(await receiver.log(f"/throttle/{unique}")) == 2  # the pause again, after one


async def test_connection_refused_is_recorded_and_retried(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    fake_clock: FakeClock,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, f"http://127.0.0.1:{free_port()}/hook")
    await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    [attempt] = delivery["attempt_history"]
    assert attempt["error_class"] == "connection_refused"
    assert delivery["status"] == "pending"


async def test_delivery_out_of_attempts_follows_the_schedule_and_is_dead_lettered(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    fake_clock: FakeClock,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, f"http://127.0.0.1:{free_port()}/hook")
    await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)
    for _ in range(MAX_ATTEMPTS - 1):
        delivery = await only_delivery(wh_client, key, endpoint["id"])
        fake_clock.set(ts(delivery["next_attempt_at"]))
        await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["status"] == "failed"
    assert delivery["next_attempt_at"] is None
    times = [ts(a["attempted_at"]) for a in delivery["attempt_history"]]
    assert len(times) == MAX_ATTEMPTS
    for gap, expected in zip((b - a for a, b in itertools.pairwise(times)), DELAYS, strict=True):
        assert expected * 0.9 <= gap <= expected * 1.1
    got = (await wh_client.get(f"/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got["enabled"] is True  # about 3 days of failures: dead-lettered, not disabled


async def test_endpoint_failing_for_five_days_is_disabled(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    fake_clock: FakeClock,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, f"http://127.0.0.1:{free_port()}/hook")
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)

    fake_clock.advance(timedelta(days=5))
    await publish(wh_client, key, "order.updated")
    await run_due_jobs(db, wh_settings)

    got = (await wh_client.get(f"/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got["enabled"] is False
    assert "5 days" in got["disabled_reason"]
    assert {d["status"] for d in await deliveries(wh_client, key, endpoint["id"])} == {"failed"}
    events = await wh_client.get(
        "/v1/events", params={"type": "webhook_endpoint.disabled"}, headers=key.headers
    )
    [notice] = events.json()["data"]
    assert notice["data"]["object"]["id"] == endpoint["id"]


async def test_recover_requeues_failed_deliveries_since_a_time(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, f"http://127.0.0.1:{free_port()}/hook")
    since = fake_clock()
    for _ in range(3):
        await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    for _ in range(MAX_ATTEMPTS - 1):
        fake_clock.advance(timedelta(hours=25))
        await run_due_jobs(db, wh_settings)
    assert {d["status"] for d in await deliveries(wh_client, key, endpoint["id"])} == {"failed"}
    refused = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/recover",
        json={"since": since.isoformat()},
        headers=key.headers,
    )
    assert refused.status_code == 409  # failing for over 5 days disabled it

    fixed = await wh_client.put(
        f"/v1/webhooks/{endpoint['id']}",
        json={"url": receiver.url(f"/ok/{unique}"), "enabled": True},
        headers=key.headers,
    )
    assert fixed.status_code == 200
    recovered = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/recover",
        json={"since": since.isoformat()},
        headers=key.headers,
    )
    assert recovered.status_code == 202, recovered.text
    assert recovered.json()["requeued"] == 3
    await run_due_jobs(db, wh_settings)

    found = await deliveries(wh_client, key, endpoint["id"])
    assert {d["status"] for d in found} == {"succeeded"}
    assert {r["headers"]["webhook-id"] for r in await receiver.log(f"/ok/{unique}")} == {
        d["id"] for d in found
    }


async def test_manual_retry_sends_again_with_the_same_webhook_id(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await publish(wh_client, key)
    await run_due_jobs(db, wh_settings)
    delivery = await only_delivery(wh_client, key, endpoint["id"])

    retried = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/retry", headers=key.headers
    )
    assert retried.status_code == 202, retried.text
    again = await wh_client.post(
        f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/retry", headers=key.headers
    )
    assert again.status_code == 409
    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert [a["trigger"] for a in delivery["attempt_history"]] == ["scheduled", "manual"]
    requests = await receiver.log(f"/ok/{unique}")
    assert [r["headers"]["webhook-id"] for r in requests] == [delivery["id"]] * 2


async def test_test_route_sends_a_signed_test_event_and_reports_the_outcome(
    db: Database, wh_client: httpx.AsyncClient, receiver: Receiver, unique: str
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}"), event_types=["order.created"]
    )
    headers = {**key.headers, "Idempotency-Key": f"test-{unique}"}
    ok = await wh_client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=headers)
    assert ok.status_code == 200, ok.text
    replay = await wh_client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == ok.json()
    assert ok.json()["succeeded"] is True
    assert ok.json()["attempt"]["status_code"] == 200
    [request] = await receiver.log(f"/ok/{unique}")
    payload = standardwebhooks.Webhook(endpoint["secret"]).verify(
        request["body"], request["headers"]
    )
    assert payload["type"] == "webhook.test"

    broken = await create_endpoint(wh_client, key, receiver.url(f"/big/{unique}"))
    failed = await wh_client.post(f"/v1/webhooks/{broken['id']}/test", headers=key.headers)
    assert failed.json()["succeeded"] is False
    assert failed.json()["attempt"]["status_code"] == 500
    assert len(failed.json()["attempt"]["response_body"]) == 16 * 1024


async def test_slow_endpoint_does_not_delay_deliveries_to_others(
    db: Database,
    wh_client: httpx.AsyncClient,
    settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    narrow = make_settings(
        settings.database_url,
        webhook_allowed_networks=ALLOW_LOOPBACK,
        worker_concurrency=4,
        webhook_endpoint_concurrency=2,
    )
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/slow/{unique}"))
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    for _ in range(6):
        await publish(wh_client, key)
    worker = Worker(db, narrow)
    await worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(await receiver.log(f"/slow/{unique}")) < 6:
            assert time.monotonic() < deadline, "slow deliveries did not finish"
            await asyncio.sleep(0.1)
    finally:
        await worker.stop()
    fast = await receiver.log(f"/ok/{unique}")
    slow = sorted(r["at"] for r in await receiver.log(f"/slow/{unique}"))
    assert len(fast) == 6
    # at most two slow deliveries are in flight at once, each taking 2 s; every fast one
    # arrived before the slow ones of the second round had even started
    assert max(r["at"] for r in fast) < slow[2]


async def test_test_send_to_a_gone_endpoint_does_not_disable_it(
    db: Database, wh_client: httpx.AsyncClient, receiver: Receiver, unique: str
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/gone/{unique}"))
    sent = await wh_client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
    assert sent.json()["attempt"]["status_code"] == 410
    got = (await wh_client.get(f"/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got["enabled"] is True


async def test_endpoint_rate_limit_defers_deliveries_beyond_it(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"), rate_limit=1)
    for _ in range(3):
        await publish(wh_client, key)

    await run_due_jobs(db, wh_settings)

    assert len(await receiver.log(f"/ok/{unique}")) == 1
    found = await deliveries(wh_client, key, endpoint["id"])
    assert sorted(d["status"] for d in found) == ["pending", "pending", "succeeded"]
    assert all(d["attempts"] == 0 for d in found if d["status"] == "pending")
