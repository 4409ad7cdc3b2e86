from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from interlink.auth.dependencies import InboundRead, InboundWrite
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params, paginate
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.models import InboundEvent
from interlink.webhooks_in import admin, repository, service
from interlink.webhooks_in.schemas import (
    BulkReplay,
    BulkReplayResult,
    InboundEventDetail,
    InboundEventRead,
    InboundStatus,
    Receipt,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409)
}
IntegrationId = Annotated[str, Path(max_length=64)]
EventId = Annotated[str, Path(max_length=64)]
Page = Annotated[PageParams, Depends(page_params)]


def get_receiver(request: Request) -> service.Receiver:
    state = request.app.state
    return service.Receiver(db=state.db, settings=state.settings, keyring=state.keyring)


Receiver = Annotated[service.Receiver, Depends(get_receiver)]

# public: the provider authenticates by its signature, not by an API key
inbound = APIRouter(prefix="/inbound", tags=["inbound webhooks"])


@inbound.post(
    "/{integration_id}",
    response_model=Receipt,
    responses={code: {"model": ErrorBody} for code in (400, 404, 413, 503)},
)
async def receive(
    integration_id: IntegrationId, request: Request, receiver: Receiver, session: Session
) -> Receipt:
    body = await request.body()
    return await service.receive(receiver, session, integration_id, request.headers, body)


events = APIRouter(prefix="/inbound-events", tags=["inbound webhooks"])


@events.get("", response_model=ListResponse[InboundEventRead], responses=ERRORS)
async def list_events(
    key: InboundRead,
    session: Session,
    page: Page,
    integration_id: str | None = None,
    type: str | None = None,
    status: InboundStatus | None = None,
    since: datetime | None = None,
) -> Any:
    stmt = repository.list_stmt(
        key.tenant_id, integration_id=integration_id, event_type=type, status=status, since=since
    )
    rows, has_more = await paginate(session, stmt, InboundEvent.id, page)
    return list_body([InboundEventRead.model_validate(r) for r in rows], has_more)


@events.post("/replay", response_model=BulkReplayResult, responses=ERRORS)
async def replay_dead(body: BulkReplay, key: InboundWrite, session: Session) -> BulkReplayResult:
    return await admin.replay_dead(session, key.tenant_id, body)


@events.get("/{event_id}", response_model=InboundEventDetail, responses=ERRORS)
async def get_event(event_id: EventId, key: InboundRead, session: Session) -> InboundEventDetail:
    return await admin.get(session, key.tenant_id, event_id)


@events.post("/{event_id}/replay", response_model=InboundEventRead, responses=ERRORS)
async def replay(event_id: EventId, key: InboundWrite, session: Session) -> InboundEventRead:
    return await admin.replay(session, key.tenant_id, event_id)
