from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from interlink.auth import service
from interlink.auth.dependencies import ApiKeysRead, ApiKeysWrite
from interlink.auth.schemas import (
    ApiKeyCreate,
    ApiKeyRead,
    ApiKeyRotate,
    ApiKeyUsageRead,
    ApiKeyWithSecret,
)
from interlink.auth.usage import UsageRecorder
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody

router = APIRouter(prefix="/api-keys", tags=["api keys"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
}


def _reveals_secret(request: Request) -> None:
    # the request pipeline seals a stored idempotent response that carries a key
    request.state.response_reveals_secret = True


@router.post(
    "",
    response_model=ApiKeyWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    dependencies=[Depends(_reveals_secret)],
)
async def create_api_key(body: ApiKeyCreate, key: ApiKeysWrite, session: Session) -> Any:
    return await service.create(session, key, body)


@router.get("", response_model=ListResponse[ApiKeyRead], responses=ERRORS)
async def list_api_keys(
    key: ApiKeysRead, session: Session, page: Annotated[PageParams, Depends(page_params)]
) -> Any:
    data, has_more = await service.page(session, key, page)
    return list_body(data, has_more)


@router.get("/{key_id}", response_model=ApiKeyRead, responses=ERRORS)
async def get_api_key(key_id: str, key: ApiKeysRead, session: Session) -> Any:
    return service.to_read(await service.get(session, key, key_id))


@router.delete("/{key_id}", response_model=ApiKeyRead, responses=ERRORS)
async def revoke_api_key(key_id: str, key: ApiKeysWrite, session: Session) -> Any:
    return service.to_read(await service.revoke(session, key, key_id))


@router.post(
    "/{key_id}/rotate",
    response_model=ApiKeyWithSecret,
    responses=ERRORS,
    dependencies=[Depends(_reveals_secret)],
)
async def rotate_api_key(
    key_id: str,
    key: ApiKeysWrite,
    session: Session,
    request: Request,
    body: ApiKeyRotate | None = None,
) -> Any:
    hours = (
        body.grace_period_hours
        if body is not None and body.grace_period_hours is not None
        else request.app.state.settings.api_key_rotation_grace_hours
    )
    return await service.rotate(session, key, key_id, timedelta(hours=hours))


@router.get("/{key_id}/usage", response_model=ApiKeyUsageRead, responses=ERRORS)
async def api_key_usage(
    key_id: str,
    key: ApiKeysRead,
    session: Session,
    request: Request,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
) -> Any:
    recorder: UsageRecorder = request.app.state.usage
    await recorder.flush()
    return await service.usage(session, key, key_id, days)
