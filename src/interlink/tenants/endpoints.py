from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from interlink.auth.dependencies import Platform
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.tenants import service
from interlink.tenants.schemas import TenantCreate, TenantRead

router = APIRouter(prefix="/tenants", tags=["tenants"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
}


@router.post("", response_model=TenantRead, status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_tenant(body: TenantCreate, key: Platform, session: Session) -> Any:
    return service.to_read(await service.create(session, body))


@router.get("", response_model=ListResponse[TenantRead], responses=ERRORS)
async def list_tenants(
    key: Platform, session: Session, page: Annotated[PageParams, Depends(page_params)]
) -> Any:
    rows, has_more = await service.page(session, page)
    return list_body([service.to_read(r) for r in rows], has_more)


@router.get("/{tenant_id}", response_model=TenantRead, responses=ERRORS)
async def get_tenant(tenant_id: str, key: Platform, session: Session) -> Any:
    return service.to_read(await service.get(session, tenant_id))
