"""Fan-out: which endpoints an event reaches, exactly once each."""

from __future__ import annotations

from datetime import timedelta

import httpx

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.events import publish as publish_internal
from tests.webhooks_out.conftest import FakeClock, Receiver, run_due_jobs
from tests.webhooks_out.helpers import create_endpoint, deliveries, publish, tenant


async def test_event_reaches_exact_wildcard_and_channel_subscribers_only(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    everything = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}/all"))
    exact = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/exact"), event_types=["order.created"]
    )
    wildcard = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/wild"), event_types=["order.*"]
    )
    other_type = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/pay"), event_types=["payment.*"]
    )
    channel = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/eu"), channels=["eu"]
    )
    disabled = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/off"), enabled=False
    )
    other_tenant = await tenant(db)
    foreign = await create_endpoint(wh_client, other_tenant, receiver.url(f"/ok/{unique}/x"))

    await publish(wh_client, key, "order.created")
    await publish(wh_client, key, "order.updated", channels=["eu"])
    await run_due_jobs(db, wh_settings)

    async def types(endpoint: dict[str, object], owner: object = key) -> list[str]:
        found = await deliveries(wh_client, owner, str(endpoint["id"]))  # type: ignore[arg-type]
        return sorted(d["event_type"] for d in found)

    assert await types(everything) == ["order.created", "order.updated"]
    assert await types(exact) == ["order.created"]
    assert await types(wildcard) == ["order.created", "order.updated"]
    assert await types(other_type) == []
    assert await types(channel) == ["order.updated"]
    assert await types(disabled) == []
    assert await types(foreign, other_tenant) == []
    assert len(await receiver.log(f"/ok/{unique}/")) == 6

    wid = str(everything["id"])
    by_type = await deliveries(wh_client, key, wid, event_type="order.updated")
    assert [d["event_type"] for d in by_type] == ["order.updated"]
    assert len(await deliveries(wh_client, key, wid, status="succeeded")) == 2
    assert await deliveries(wh_client, key, wid, status="failed") == []
    later = (fake_clock() + timedelta(seconds=1)).isoformat()
    assert await deliveries(wh_client, key, wid, since=later) == []
    naive = await wh_client.get(
        f"/v1/webhooks/{wid}/deliveries",
        params={"since": "2026-01-01T00:00:00"},
        headers=key.headers,
    )
    assert naive.status_code == 422
    bad_status = await wh_client.get(
        f"/v1/webhooks/{wid}/deliveries", params={"status": "lost"}, headers=key.headers
    )
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["param"] == "status"


async def test_domain_publish_inside_a_transaction_fans_out_once_even_if_rerun(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    async with db.session() as session:
        event = await publish_internal(
            session, key.tenant_id, "gallery.delivered", {"object": {"id": "gal_1"}}
        )
        await session.commit()
    from interlink.models import Event
    from interlink.webhooks_out.fanout import fan_out

    await run_due_jobs(db, wh_settings)
    async with db.session() as session:
        row = await session.get(Event, event.id)
        assert row is not None
        assert await fan_out(session, row) == 0  # a second run creates nothing
        await session.commit()
    await run_due_jobs(db, wh_settings)
    assert len(await deliveries(wh_client, key, endpoint["id"])) == 1
    assert len(await receiver.log(f"/ok/{unique}")) == 1


async def test_rolled_back_publish_leaves_no_event_and_no_delivery(
    db: Database, wh_client: httpx.AsyncClient, wh_settings: Settings, unique: str
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, f"https://hooks.example.com/{unique}")
    async with db.session() as session:
        await publish_internal(session, key.tenant_id, "order.created", {"object": {}})
        await session.rollback()
    await run_due_jobs(db, wh_settings)
    assert (await wh_client.get("/v1/events", headers=key.headers)).json()["data"] == []
    assert await deliveries(wh_client, key, endpoint["id"]) == []


async def test_concurrent_publishes_of_one_external_id_make_one_event(db: Database) -> None:
    import asyncio

    key = await tenant(db)
    first = db.session()
    second = db.session()
    try:
        one = await publish_internal(
            first, key.tenant_id, "order.created", {"object": {}}, external_id="ord-1"
        )
        racing = asyncio.create_task(
            publish_internal(
                second, key.tenant_id, "order.created", {"object": {}}, external_id="ord-1"
            )
        )
        await asyncio.sleep(0.2)  # let the second publish reach the unique index and wait
        await first.commit()
        two = await racing
        await second.commit()
    finally:
        await first.close()
        await second.close()
    assert two.id == one.id


SUBSCRIPTIONS: list[list[str]] = [
    [],
    ["*"],
    ["order.created"],
    ["order.*"],
    ["order.item.*"],
    ["order"],
    ["order.created.*"],
    ["ord*"],
    ["payment.*", "order.item.created"],
    ["order.*", "order.created"],  # two patterns that match: still one delivery
]
CHANNELS: list[list[str] | None] = [None, [], ["eu"], ["us", "eu"], ["us"]]


def rule(event_types: list[str], channels: list[str] | None, event: str, on: list[str]) -> bool:
    """The documented rule: an empty list, ``*``, the type, or ``prefix.*`` with the type
    starting with ``prefix.``; and, for an endpoint naming channels, one of the event's."""
    named = not event_types or any(
        p in ("*", event) or (p.endswith(".*") and event.startswith(p[:-1])) for p in event_types
    )
    return named and (not channels or bool(set(channels) & set(on)))


async def test_the_database_picks_exactly_the_endpoints_the_subscription_rules_name(
    db: Database,
) -> None:
    from sqlalchemy import null, select

    from interlink.kit.ids import new_id
    from interlink.models import WebhookDelivery, WebhookEndpoint

    key = await tenant(db)
    other = await tenant(db)
    expected_rules: dict[str, tuple[list[str], list[str] | None]] = {}
    async with db.session() as session:
        for enabled in (True, False):
            for owner in (key.tenant_id, other.tenant_id):
                for event_types in SUBSCRIPTIONS:
                    for channels in [*CHANNELS, "sql-null"]:
                        row = WebhookEndpoint(
                            id=new_id("whep"),
                            tenant_id=owner,
                            url="https://hooks.example.com/x",
                            mode="test",
                            event_types=event_types,
                            channels=null() if channels == "sql-null" else channels,
                            headers={},
                            timeout_seconds=15,
                            enabled=enabled,
                            secret_sealed="sealed",
                            secret_last4="xxxx",
                        )
                        session.add(row)
                        if enabled and owner == key.tenant_id:
                            on = None if channels == "sql-null" else channels
                            expected_rules[row.id] = (event_types, on)  # type: ignore[assignment]
        await session.commit()

    cases = [
        ("order.created", None),
        ("order.created", ["eu"]),
        ("order.created", ["asia"]),
        ("order.item.created", ["us"]),
        ("orders.created", None),
        ("payment.captured", []),
    ]
    for event_type, on in cases:
        async with db.session() as session:
            event = await publish_internal(
                session, key.tenant_id, event_type, {"object": {}}, channels=on
            )
            await session.commit()
        async with db.read_session() as session:
            reached = list(
                await session.scalars(
                    select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id)
                )
            )
        wanted = {
            endpoint_id
            for endpoint_id, (types, channels) in expected_rules.items()
            if rule(types, channels, event_type, on or [])
        }
        assert wanted  # every case reaches someone (at least the empty subscription)
        assert len(reached) == len(set(reached))
        assert set(reached) == wanted, (event_type, on)


async def test_a_duplicate_external_event_id_creates_no_deliveries_and_no_wake_up(
    db: Database,
    wh_client: httpx.AsyncClient,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    from sqlalchemy import func, select

    from interlink.models import Job, WebhookDelivery
    from interlink.webhooks_out.wakeup import SHARE_WINDOW

    key = await tenant(db)
    for n in range(3):
        await create_endpoint(wh_client, key, f"https://hooks.example.com/{unique}/{n}")

    async def counts() -> tuple[int, int]:
        async with db.read_session() as session:
            deliveries = await session.scalar(
                select(func.count()).where(WebhookDelivery.tenant_id == key.tenant_id)
            )
            jobs = await session.scalar(select(func.count()).select_from(Job))
        return int(deliveries or 0), int(jobs or 0)

    ids = []
    for _ in range(2):
        async with db.session() as session:
            event = await publish_internal(
                session, key.tenant_id, "order.created", {"object": {}}, external_id="ord-9"
            )
            await session.commit()
        ids.append(event.id)
        if len(ids) == 1:
            first = await counts()
            fake_clock.advance(SHARE_WINDOW * 2)  # a second wake-up could not be the shared one
    assert ids[0] == ids[1]
    assert first[0] == 3
    assert await counts() == first
