"""The group commit that stores received events and queues their processing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from interlink.db.engine import Database
from interlink.jobs import notify, wake_socket
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.webhooks_in.service import PROCESS_JOB
from interlink.webhooks_in.writer import InboundWriter
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import events_of, integration_row, process_jobs


def event_row(tenant_id: str, integration_id: str, provider_event_id: str) -> dict[str, Any]:
    return {
        "id": new_id("inev"),
        "tenant_id": tenant_id,
        "integration_id": integration_id,
        "connection_code": "stripe",
        "provider_event_id": provider_event_id,
        "event_type": "payment_intent.succeeded",
        "signature_valid": True,
        "status": "received",
        "body": b"{}",
        "headers": {"content-type": "application/json"},
        "attempts": 0,
        "replays": 0,
        "received_at": now(),
        "request_id": "req_test",
    }


async def stripe_row(app: FastAPI, db: Database) -> tuple[str, str]:
    tenant = await tenant_with_key(db)
    integration_id = await integration_row(
        app, tenant.tenant_id, "stripe", {"webhook_secret": "whsec_x"}
    )
    return tenant.tenant_id, integration_id


async def test_one_batch_stores_each_event_once_and_answers_copies_with_the_first_id(
    app: FastAPI, db: Database
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    writer = InboundWriter(db, PROCESS_JOB)
    earlier = event_row(tenant_id, integration_id, "evt_earlier")
    assert await writer.store(earlier) == (earlier["id"], False)

    rows = [
        event_row(tenant_id, integration_id, "evt_new"),
        event_row(tenant_id, integration_id, "evt_new"),
        event_row(tenant_id, integration_id, "evt_earlier"),
        event_row(tenant_id, integration_id, "evt_other"),
    ]
    answers = await asyncio.gather(*(writer.store(r) for r in rows))

    assert answers == [
        (rows[0]["id"], False),
        (rows[0]["id"], True),
        (earlier["id"], True),
        (rows[3]["id"], False),
    ]
    stored = await events_of(db, integration_id)
    assert sorted(e.provider_event_id or "" for e in stored) == [
        "evt_earlier",
        "evt_new",
        "evt_other",
    ]
    for event_id in (earlier["id"], rows[0]["id"], rows[3]["id"]):
        assert await process_jobs(db, event_id) == 1


async def test_a_row_the_database_refuses_fails_only_its_own_delivery(
    app: FastAPI, db: Database
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    writer = InboundWriter(db, PROCESS_JOB)
    good = event_row(tenant_id, integration_id, "evt_good")
    orphan = event_row(tenant_id, "int_deletedmeanwhile", "evt_orphan")
    also_good = event_row(tenant_id, integration_id, "evt_also_good")

    answers = await asyncio.gather(
        *(writer.store(r) for r in (good, orphan, also_good)), return_exceptions=True
    )

    assert answers[0] == (good["id"], False)
    assert isinstance(answers[1], IntegrityError)
    assert answers[2] == (also_good["id"], False)
    assert sorted(e.id for e in await events_of(db, integration_id)) == sorted(
        [good["id"], also_good["id"]]
    )
    assert await process_jobs(db, orphan["id"]) == 0


@pytest.mark.parametrize("copies", [2, 5])
async def test_copies_of_an_event_in_one_batch_queue_one_job(
    app: FastAPI, db: Database, copies: int
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    writer = InboundWriter(db, PROCESS_JOB)
    rows = [event_row(tenant_id, integration_id, "evt_same") for _ in range(copies)]

    answers = await asyncio.gather(*(writer.store(r) for r in rows))

    assert {event_id for event_id, _ in answers} == {rows[0]["id"]}
    assert [duplicate for _, duplicate in answers] == [False] + [True] * (copies - 1)
    assert await process_jobs(db, rows[0]["id"]) == 1


async def test_a_batch_whose_jobs_cannot_be_queued_stores_none_of_its_events(
    app: FastAPI, db: Database
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    writer = InboundWriter(db, "inbound.no_such_job")
    rows = [event_row(tenant_id, integration_id, f"evt_{n}") for n in range(3)]

    answers = await asyncio.gather(*(writer.store(r) for r in rows), return_exceptions=True)

    assert all(isinstance(a, LookupError) for a in answers)
    assert await events_of(db, integration_id) == []
    # the writer goes on: the next batch is written
    good = InboundWriter(db, PROCESS_JOB)
    assert await good.store(rows[0]) == (rows[0]["id"], False)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_batch_committed_on_sqlite_wakes_workers_here_and_in_other_processes(
    backend: str, app: FastAPI, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    sent: list[str] = []
    monkeypatch.setattr(wake_socket, "send", sent.append)
    local = asyncio.Event()
    notify.add_waiter(local)
    try:
        await InboundWriter(db, PROCESS_JOB).store(event_row(tenant_id, integration_id, "evt_1"))
    finally:
        notify.remove_waiter(local)
    assert local.is_set()
    assert sent == [db.engine.url.database]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_batch_that_queued_no_job_on_sqlite_wakes_nobody(
    backend: str, app: FastAPI, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, integration_id = await stripe_row(app, db)
    writer = InboundWriter(db, PROCESS_JOB)
    first = event_row(tenant_id, integration_id, "evt_1")
    await writer.store(first)
    sent: list[str] = []
    monkeypatch.setattr(wake_socket, "send", sent.append)
    local = asyncio.Event()
    notify.add_waiter(local)
    try:
        answer = await writer.store(event_row(tenant_id, integration_id, "evt_1"))
    finally:
        notify.remove_waiter(local)
    assert answer == (first["id"], True)
    assert not local.is_set()
    assert sent == []
