"""Fan-out: one delivery row per subscribed, enabled endpoint, written in the publishing
transaction (the delivery row is its own queue entry: ``pending`` and due at
``next_attempt_at``), and a wake-up of the dispatcher.

The database picks the endpoints. An endpoint is subscribed when its ``event_types`` is empty or
holds ``*``, the type itself, or one of the type's wildcards (``order.*`` and ``order.item.*``
for ``order.item.created``: ``candidate_patterns``); and, when it names channels, when one of
them is among the event's.

On PostgreSQL a publish is one statement: the event, its deliveries, the (shared) wake-up and the
notification are CTEs of one ``INSERT``. On SQLite (no data-modifying CTEs) it is three: the
event, the deliveries (``INSERT … SELECT`` over ``json_each``) and the wake-up.

Delivery ids are completed in the statement: ``msg_`` and a ULID whose last five characters (hex,
a subset of the ULID alphabet) number the event's deliveries, so the matching endpoints need not
be read first and the ids stay unique and time-ordered. Up to 2^20 endpoints per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.types import JSONType, UTCDateTime
from interlink.jobs.enqueue import announce
from interlink.kit.clock import now
from interlink.kit.ids import new_id_stem
from interlink.models import Event
from interlink.webhooks_out import schedule
from interlink.webhooks_out.wakeup import (
    DISPATCH_JOB,
    PG_SHARED_WAKE,
    PG_SHARED_WAKE_COLUMNS,
    WAKE_TYPES,
    shared_wake_params,
    wake_shared,
    wake_sqlite_shared,
)

NEVER_FANNED_OUT = frozenset({"webhook.test"})
DELIVERY_SUFFIX = 5  # the hex characters (lpad(…, 5), %05X) numbering deliveries: up to 2^20


def candidate_patterns(event_type: str) -> list[str]:
    """Every subscription pattern that names ``event_type``: ``*``, itself and its wildcards."""
    patterns = ["*", event_type]
    for at, char in enumerate(event_type):
        if char == ".":
            patterns.append(event_type[: at + 1] + "*")
    return patterns


_EVENT_SQL = """
INSERT INTO events (id, tenant_id, type, data, external_id, source, request_id, channels,
                    created_at)
VALUES (:event_id, :tenant_id, :event_type, :data, :external_id, :source, :request_id, :channels,
        :at)
ON CONFLICT (tenant_id, external_id) DO NOTHING"""
_EVENT_TYPES = (bindparam("data", type_=JSONType), bindparam("channels", type_=JSONType))
# {event_id}: the event's id; {source}: the tables, ``webhook_endpoints AS e`` among them
_PG_DELIVERIES = """
INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status,
                                attempts, attempts_allowed, next_attempt_at, created_at,
                                updated_at)
SELECT :stem || upper(lpad(to_hex(row_number() OVER (ORDER BY e.id) - 1), 5, '0')),
       e.tenant_id, e.id, {event_id}, CAST(:event_type AS varchar), 'pending', 0,
       CAST(:attempts_allowed AS integer), CAST(:at AS timestamptz), CAST(:at AS timestamptz),
       CAST(:at AS timestamptz)
FROM {source}
WHERE e.tenant_id = :tenant_id AND e.enabled
  AND (e.event_types IS NULL OR e.event_types IN (CAST('[]' AS jsonb), CAST('null' AS jsonb))
       OR e.event_types ?| CAST(:patterns AS text[]))
  AND (e.channels IS NULL OR e.channels IN (CAST('[]' AS jsonb), CAST('null' AS jsonb))
       OR e.channels ?| CAST(:event_channels AS text[]))
ON CONFLICT (endpoint_id, event_id) DO NOTHING
RETURNING 1"""

# the event, its deliveries and their wake-up in one statement; ``event`` returns nothing when
# the tenant already has an event with this external id, and then nothing else is written.
# Composed of the constant fragments above (every value is a bound parameter).
_PG_PUBLISH = text(
    "WITH event AS ("  # noqa: S608 - constant fragments, values bound
    + _EVENT_SQL
    + " RETURNING id), deliveries AS ("
    + _PG_DELIVERIES.format(event_id="event.id", source="event, webhook_endpoints AS e")
    + "), "
    + PG_SHARED_WAKE.format(after="deliveries").strip()
    + " SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM deliveries), "
    + PG_SHARED_WAKE_COLUMNS
).bindparams(*WAKE_TYPES, *_EVENT_TYPES)
_PG_FAN_OUT = text(
    "WITH deliveries AS ("  # noqa: S608 - constant fragments, values bound
    + _PG_DELIVERIES.format(event_id="CAST(:event_id AS varchar)", source="webhook_endpoints AS e")
    + ") SELECT count(*) FROM deliveries"
).bindparams(bindparam("at", type_=UTCDateTime()))

_SQLITE_FAN_OUT = text(
    """
INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status,
                                attempts, attempts_allowed, next_attempt_at, created_at,
                                updated_at)
SELECT :stem || printf('%05X', row_number() OVER (ORDER BY e.id) - 1),
       :tenant_id, e.id, :event_id, :event_type, 'pending', 0, :attempts_allowed, :at, :at, :at
FROM webhook_endpoints AS e
WHERE e.tenant_id = :tenant_id AND e.enabled
  AND (e.event_types IS NULL OR json_array_length(e.event_types) = 0
       OR EXISTS (SELECT 1 FROM json_each(e.event_types) AS t
                  WHERE t.value IN (SELECT value FROM json_each(:patterns))))
  AND (e.channels IS NULL OR json_array_length(e.channels) = 0
       OR EXISTS (SELECT 1 FROM json_each(e.channels) AS c
                  WHERE c.value IN (SELECT value FROM json_each(:event_channels))))
ON CONFLICT (endpoint_id, event_id) DO NOTHING"""
).bindparams(bindparam("at", type_=UTCDateTime()))
_EVENT = text(_EVENT_SQL).bindparams(bindparam("at", type_=UTCDateTime()), *_EVENT_TYPES)


def _delivery_params(
    event_id: str,
    tenant_id: str,
    event_type: str,
    channels: Sequence[str] | None,
    at: datetime,
    *,
    is_sqlite: bool,
) -> dict[str, Any]:
    patterns = candidate_patterns(event_type)
    event_channels = list(channels or ())
    return {
        "stem": new_id_stem("msg", DELIVERY_SUFFIX),
        "event_id": event_id,
        "tenant_id": tenant_id,
        "event_type": event_type,
        "attempts_allowed": schedule.MAX_ATTEMPTS,
        "at": at,
        # SQLite reads them with json_each; PostgreSQL as text[] for ?|
        "patterns": orjson.dumps(patterns).decode() if is_sqlite else patterns,
        "event_channels": orjson.dumps(event_channels).decode() if is_sqlite else event_channels,
    }


async def insert_published(
    session: AsyncSession,
    *,
    event_id: str,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    external_id: str | None,
    source: str,
    request_id: str | None,
    channels: list[str] | None,
    at: datetime,
) -> bool:
    """Write the event row and, unless the tenant already has an event with ``external_id``
    (then nothing is written and this returns False), its deliveries and their wake-up."""
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    params = _delivery_params(event_id, tenant_id, event_type, channels, at, is_sqlite=is_sqlite)
    params.update(
        data=data, external_id=external_id, source=source, request_id=request_id, channels=channels
    )
    fans_out = event_type not in NEVER_FANNED_OUT
    if is_sqlite or not fans_out:
        result = await session.execute(_EVENT, params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if fans_out:
            created = await session.execute(_SQLITE_FAN_OUT, params)
            if created.rowcount:  # type: ignore[attr-defined]
                await wake_sqlite_shared(session, shared_wake_params(session, at))
        return True
    params.update(shared_wake_params(session, at))
    events, deliveries, _queued, _notified = (await session.execute(_PG_PUBLISH, params)).one()
    if deliveries:
        await announce(session, False, notified=True, job_name=DISPATCH_JOB)
    return bool(events)


async def fan_out(session: AsyncSession, event: Event) -> int:
    """Create the deliveries of an event already written; running it again creates none twice
    (a unique ``(endpoint, event)`` index decides)."""
    if event.type in NEVER_FANNED_OUT:
        return 0
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    params = _delivery_params(
        event.id, event.tenant_id, event.type, event.channels, now(), is_sqlite=is_sqlite
    )
    if is_sqlite:
        created = int((await session.execute(_SQLITE_FAN_OUT, params)).rowcount)  # type: ignore[attr-defined]
    else:
        created = int((await session.execute(_PG_FAN_OUT, params)).scalar_one())
    if created:
        await wake_shared(session)
    return created
