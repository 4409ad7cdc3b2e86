from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from interlink.auth.dependencies import FulfillmentRead, FulfillmentWrite
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.fulfillment import callbacks, catalog, mappings, service
from interlink.fulfillment.schemas import (
    CallbackRead,
    CallbackRegister,
    CatalogRead,
    FulfillmentOrderCreate,
    FulfillmentOrderRead,
    MappingCreate,
    MappingRead,
)
from interlink.integrations.endpoints import Runtime

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 422)
}
PROVIDER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    **{code: {"model": ErrorBody} for code in (502, 503)},
}
FulfillmentStatus = Literal[
    "pending",
    "submitted",
    "accepted",
    "in_production",
    "shipped",
    "cancelling",
    "cancelled",
    "rejected",
    "needs_attention",
]
OrderId = Annotated[str, Path(max_length=64)]
IntegrationId = Annotated[str, Path(max_length=64)]
Page = Annotated[PageParams, Depends(page_params)]

orders = APIRouter(prefix="/fulfillment/orders", tags=["fulfillment"])


@orders.post(
    "", response_model=FulfillmentOrderRead, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
async def create_order(
    body: FulfillmentOrderCreate, key: FulfillmentWrite, session: Session
) -> Any:
    return await service.create(session, key, body)


@orders.get("", response_model=ListResponse[FulfillmentOrderRead], responses=ERRORS)
async def list_orders(
    key: FulfillmentRead,
    session: Session,
    page: Page,
    status: FulfillmentStatus | None = None,
    order_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    data, has_more = await service.page(session, key, page, status, order_id)
    return list_body(data, has_more)


@orders.get("/{order_id}", response_model=FulfillmentOrderRead, responses=ERRORS)
async def get_order(order_id: OrderId, key: FulfillmentRead, session: Session) -> Any:
    return await service.get(session, key, order_id)


@orders.post("/{order_id}/cancel", response_model=FulfillmentOrderRead, responses=ERRORS)
async def cancel_order(order_id: OrderId, key: FulfillmentWrite, session: Session) -> Any:
    return await service.cancel(session, key, order_id)


@orders.post("/{order_id}/resubmit", response_model=FulfillmentOrderRead, responses=ERRORS)
async def resubmit_order(order_id: OrderId, key: FulfillmentWrite, session: Session) -> Any:
    return await service.resubmit(session, key, order_id)


product_mappings = APIRouter(prefix="/fulfillment/product-mappings", tags=["fulfillment"])


@product_mappings.post("", response_model=MappingRead, responses=ERRORS)
async def put_mapping(body: MappingCreate, key: FulfillmentWrite, session: Session) -> Any:
    return await mappings.upsert(session, key, body)


@product_mappings.get("", response_model=ListResponse[MappingRead], responses=ERRORS)
async def list_mappings(
    key: FulfillmentRead,
    session: Session,
    page: Page,
    integration_id: Annotated[str | None, Query(max_length=64)] = None,
    product_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    data, has_more = await mappings.page(session, key, page, integration_id, product_id)
    return list_body(data, has_more)


labs = APIRouter(prefix="/integrations", tags=["fulfillment"])


@labs.get("/{integration_id}/products", response_model=CatalogRead, responses=PROVIDER_ERRORS)
async def lab_products(
    integration_id: IntegrationId,
    key: FulfillmentRead,
    session: Session,
    runtime: Runtime,
    cached: Annotated[bool, Query(description="Return the cache without asking the lab.")] = False,
) -> Any:
    return await catalog.products(runtime, session, key, integration_id, refresh=not cached)


@labs.post("/{integration_id}/lab-callback", response_model=CallbackRead, responses=PROVIDER_ERRORS)
async def register_lab_callback(
    integration_id: IntegrationId, body: CallbackRegister, key: FulfillmentWrite, runtime: Runtime
) -> Any:
    return await callbacks.register(runtime, key, integration_id, body)
