"""Event types (built-in and tenant-defined) and publishing through the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.pagination import PageParams, paginate
from interlink.events import catalog, repository
from interlink.events.exceptions import (
    EventNotFound,
    EventTypeExists,
    InvalidEventData,
    InvalidSchema,
    UnknownEventType,
)
from interlink.events.publish import check_type, publish
from interlink.events.schemas import (
    EventCreate,
    EventDeliveryRead,
    EventRead,
    EventTypeCreate,
    EventTypeRead,
)
from interlink.events.validators import validator_for
from interlink.kit.ids import new_id
from interlink.models import Event, EventType

# types a publisher may not send through the API: Interlink emits them itself
RESERVED_PREFIXES = ("webhook.", "webhook_endpoint.")


def _type_read(row: EventType) -> EventTypeRead:
    return EventTypeRead(
        name=row.name,
        description=row.description,
        built_in=False,
        schema_=row.schema,
        created=row.created_at,
    )


async def list_types(session: AsyncSession, principal: Principal) -> list[EventTypeRead]:
    built_in = [
        EventTypeRead(name=name, description=text, built_in=True)
        for name, text in catalog.BUILT_IN.items()
    ]
    own = [_type_read(r) for r in await repository.tenant_types(session, principal.tenant_id)]
    return built_in + own


async def create_type(
    session: AsyncSession, principal: Principal, body: EventTypeCreate
) -> EventTypeRead:
    check_type(body.name)
    if catalog.is_built_in(body.name) or await repository.tenant_type(
        session, principal.tenant_id, body.name
    ):
        raise EventTypeExists(f"The event type {body.name!r} already exists.", param="name")
    if body.schema_ is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(body.schema_)
        except jsonschema.SchemaError as exc:
            raise InvalidSchema(
                f"schema is not a valid JSON schema: {exc.message}", param="schema"
            ) from None
    row = EventType(
        id=new_id("etyp"),
        tenant_id=principal.tenant_id,
        name=body.name,
        description=body.description,
        schema=body.schema_,
    )
    session.add(row)
    await session.flush()
    return _type_read(row)


async def known_types(session: AsyncSession, tenant_id: str) -> set[str]:
    own = await repository.tenant_types(session, tenant_id)
    return set(catalog.BUILT_IN) | {r.name for r in own}


async def _validate_data(
    session: AsyncSession, tenant_id: str, event_type: str, data: dict[str, Any]
) -> None:
    if catalog.is_built_in(event_type):
        return
    row = await repository.tenant_type(session, tenant_id, event_type)
    if row is None:
        raise UnknownEventType(
            f"Unknown event type {event_type!r}: register it with POST /v1/event-types "
            "or use a built-in type (GET /v1/event-types).",
            param="type",
        )
    if row.schema is None:
        return
    error = jsonschema.exceptions.best_match(validator_for(row.schema).iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        param = "data" + (f".{where}" if where else "")
        raise InvalidEventData(
            f"data does not match the schema of {event_type!r}: {error.message}", param=param
        )


async def publish_from_api(
    session: AsyncSession, principal: Principal, body: EventCreate
) -> EventRead:
    check_type(body.type)
    if body.type.startswith(RESERVED_PREFIXES):
        raise UnknownEventType(
            f"{body.type!r} is emitted by Interlink itself and cannot be published.",
            param="type",
        )
    await _validate_data(session, principal.tenant_id, body.type, body.data)
    event = await publish(
        session,
        principal.tenant_id,
        body.type,
        body.data,
        external_id=body.id,
        source="api",
        channels=body.channels,
    )
    return to_read(event)


def to_read(event: Event, deliveries: Sequence[EventDeliveryRead] | None = None) -> EventRead:
    return EventRead(
        id=event.id,
        type=event.type,
        created=event.created_at,
        tenant=event.tenant_id,
        data=event.data,
        external_id=event.external_id,
        source=event.source,
        channels=event.channels,
        deliveries=list(deliveries) if deliveries is not None else None,
    )


async def page(
    session: AsyncSession, principal: Principal, params: PageParams, event_type: str | None
) -> tuple[list[EventRead], bool]:
    stmt = repository.events_query(principal.tenant_id, event_type)
    rows, has_more = await paginate(session, stmt, Event.id, params)
    return [to_read(r) for r in rows], has_more


async def get(session: AsyncSession, principal: Principal, event_id: str) -> EventRead:
    event = await repository.get_event(session, principal.tenant_id, event_id)
    if event is None:
        raise EventNotFound(f"No event {event_id!r}.", param="id")
    deliveries = [
        EventDeliveryRead(
            id=d.id,
            endpoint=d.endpoint_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
        )
        for d in await repository.deliveries_of(session, event.id)
    ]
    return to_read(event, deliveries)
