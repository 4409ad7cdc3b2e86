from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status

from interlink.auth.dependencies import WebhooksRead, WebhooksWrite
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody, ValidationFailed
from interlink.webhooks_out import service, testing
from interlink.webhooks_out.schemas import (
    DeliveryRead,
    RecoverRequest,
    RecoverResult,
    RotateSecret,
    TestResult,
    WebhookCreate,
    WebhookEventsUpdate,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
    422: {"model": ErrorBody},
}


def _reveals_secret(request: Request) -> None:
    # the request pipeline seals a stored idempotent response that carries a secret
    request.state.response_reveals_secret = True


@router.post(
    "",
    response_model=WebhookWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    dependencies=[Depends(_reveals_secret)],
)
async def create_webhook(
    body: WebhookCreate, key: WebhooksWrite, session: Session, request: Request
) -> Any:
    state = request.app.state
    return await service.create(session, key, body, state.settings, state.keyring)


@router.get("", response_model=ListResponse[WebhookRead], responses=ERRORS)
async def list_webhooks(
    key: WebhooksRead, session: Session, page: Annotated[PageParams, Depends(page_params)]
) -> Any:
    data, has_more = await service.page(session, key, page)
    return list_body(data, has_more)


@router.get("/{webhook_id}", response_model=WebhookRead, responses=ERRORS)
async def get_webhook(webhook_id: str, key: WebhooksRead, session: Session) -> Any:
    return service.to_read(await service.get_row(session, key, webhook_id))


@router.put("/{webhook_id}", response_model=WebhookRead, responses=ERRORS)
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, key: WebhooksWrite, session: Session, request: Request
) -> Any:
    return await service.update(session, key, webhook_id, body, request.app.state.settings)


@router.delete("/{webhook_id}", response_model=WebhookRead, responses=ERRORS)
async def delete_webhook(webhook_id: str, key: WebhooksWrite, session: Session) -> Any:
    return await service.delete(session, key, webhook_id)


@router.put("/{webhook_id}/events", response_model=WebhookRead, responses=ERRORS)
async def set_webhook_events(
    webhook_id: str, body: WebhookEventsUpdate, key: WebhooksWrite, session: Session
) -> Any:
    return await service.set_event_types(session, key, webhook_id, body.event_types)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=ERRORS,
    dependencies=[Depends(_reveals_secret)],
)
async def rotate_webhook_secret(
    webhook_id: str,
    key: WebhooksWrite,
    session: Session,
    request: Request,
    body: RotateSecret | None = None,
) -> Any:
    settings = request.app.state.settings
    hours = (
        body.overlap_hours
        if body is not None and body.overlap_hours is not None
        else settings.webhook_secret_rotation_hours
    )
    return await service.rotate_secret(
        session, key, webhook_id, timedelta(hours=hours), request.app.state.keyring
    )


@router.get(
    "/{webhook_id}/secret",
    response_model=WebhookSecret,
    responses=ERRORS,
    summary="The endpoint's signing secret (needs webhooks:write)",
)
async def get_webhook_secret(
    webhook_id: str, key: WebhooksWrite, session: Session, request: Request
) -> Any:
    return await service.reveal_secret(session, key, webhook_id, request.app.state.keyring)


@router.get("/{webhook_id}/deliveries", response_model=ListResponse[DeliveryRead], responses=ERRORS)
async def list_deliveries(
    webhook_id: str,
    key: WebhooksRead,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["pending", "succeeded", "failed"] | None = None,
    event_type: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
) -> Any:
    if since is not None and since.tzinfo is None:
        raise ValidationFailed("since must include a timezone (RFC 3339).", param="since")
    data, has_more = await service.deliveries(
        session, key, webhook_id, page, status=status, event_type=event_type, since=since
    )
    return list_body(data, has_more)


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryRead, responses=ERRORS)
async def get_delivery(
    webhook_id: str, delivery_id: str, key: WebhooksRead, session: Session
) -> Any:
    return await service.delivery(session, key, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def retry_delivery(
    webhook_id: str, delivery_id: str, key: WebhooksWrite, session: Session
) -> Any:
    return await service.retry(session, key, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/recover",
    response_model=RecoverResult,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def recover_deliveries(
    webhook_id: str, body: RecoverRequest, key: WebhooksWrite, session: Session
) -> Any:
    count = await service.recover(session, key, webhook_id, body.since, body.until)
    return RecoverResult(requeued=count)


@router.post(
    "/{webhook_id}/test",
    response_model=TestResult,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def test_webhook(webhook_id: str, key: WebhooksWrite, request: Request) -> Any:
    state = request.app.state
    return await testing.send_test(state.db, state.settings, state.keyring, key, webhook_id)
