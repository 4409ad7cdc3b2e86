from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from interlink.auth.dependencies import EventsRead, EventsWrite
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.events import service
from interlink.events.schemas import (
    EventCreate,
    EventRead,
    EventTypeCreate,
    EventTypeList,
    EventTypeRead,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
    422: {"model": ErrorBody},
}

router = APIRouter(tags=["events"])


@router.get("/event-types", response_model=EventTypeList, responses=ERRORS)
async def list_event_types(key: EventsRead, session: Session) -> Any:
    return {"object": "list", "data": await service.list_types(session, key), "has_more": False}


@router.post(
    "/event-types",
    response_model=EventTypeRead,
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def create_event_type(body: EventTypeCreate, key: EventsWrite, session: Session) -> Any:
    return await service.create_type(session, key, body)


@router.post(
    "/events", response_model=EventRead, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
async def publish_event(body: EventCreate, key: EventsWrite, session: Session) -> Any:
    return await service.publish_from_api(session, key, body)


@router.get("/events", response_model=ListResponse[EventRead], responses=ERRORS)
async def list_events(
    key: EventsRead,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    type: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    data, has_more = await service.page(session, key, page, type)
    return list_body(data, has_more)


@router.get("/events/{event_id}", response_model=EventRead, responses=ERRORS)
async def get_event(event_id: str, key: EventsRead, session: Session) -> Any:
    return await service.get(session, key, event_id)
