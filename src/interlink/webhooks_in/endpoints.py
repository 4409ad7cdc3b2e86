from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from interlink.auth.dependencies import InboundRead, InboundWrite
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params, paginate
from interlink.db.session import Session
from interlink.errors import AppError, ErrorBody
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


def receiver_of(state: Any) -> service.Receiver:
    return service.Receiver(
        db=state.db,
        settings=state.settings,
        keyring=state.keyring,
        integrations=state.inbound_integrations,
        writer=state.inbound_writer,
    )


def get_receiver(request: Request) -> service.Receiver:
    return receiver_of(request.app.state)


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
    return await service.receive(receiver, lambda: session, integration_id, request.headers, body)


PREFIX = "/v1/inbound/"
MAX_ID_CHARS = 64


class _DirectRoute:
    """Marks the scope of a delivery served by ``receive_direct`` as routed (for metrics)."""

    path = PREFIX + "{integration_id}"


DIRECT_ROUTE = _DirectRoute()


def direct_route(scope: Scope) -> ASGIApp | None:
    """``receive_direct`` for ``POST /v1/inbound/{integration_id}``; None sends the request
    through the routers (anything else, or an id the route above would refuse)."""
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.startswith(PREFIX):
        return None
    integration_id = path[len(PREFIX) :]
    if not 0 < len(integration_id) <= MAX_ID_CHARS or "/" in integration_id:
        return None
    return receive_direct


async def receive_direct(scope: Scope, receive: Receive, send: Send) -> None:
    """The same as ``receive`` above, as a plain ASGI handler: a provider posts webhooks at a
    high rate, and the routing, dependency and response-model layers cost several times the
    verification and the insert. The request pipeline runs it inside the request's unit of work
    (committed before the answer is sent), as it does the routers."""
    integration_id = scope["path"][len(PREFIX) :]
    scope["route"] = DIRECT_ROUTE
    scope["path_params"] = {"integration_id": integration_id}
    state = scope["state"]
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        receipt = await service.receive(
            receiver_of(scope["app"].state),
            lambda: state["uow"].session,
            integration_id,
            Headers(scope=scope),
            b"".join(chunks),
        )
    except AppError as exc:
        status, headers, content = exc.status, exc.headers, exc.body(state.get("request_id"))
    else:
        status, headers, content = 200, {}, receipt.model_dump()
    raw = [(b"content-type", b"application/json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": orjson.dumps(content)})


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
