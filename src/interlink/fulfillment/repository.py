"""Every query of the fulfillment domain; each one tenant-scoped unless it says otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import (
    FulfillmentEvent,
    FulfillmentOrder,
    Integration,
    LabIntegrationState,
    LabProductRow,
    ProductMapping,
)


async def get(session: AsyncSession, tenant_id: str, order_id: str) -> FulfillmentOrder | None:
    return await session.scalar(
        select(FulfillmentOrder).where(
            FulfillmentOrder.tenant_id == tenant_id, FulfillmentOrder.id == order_id
        )
    )


async def get_for_job(
    session: AsyncSession, fulfillment_order_id: str, *, lock: bool = False
) -> FulfillmentOrder | None:
    """By id alone: jobs carry ids written by the tenant's own transaction."""
    stmt = select(FulfillmentOrder).where(FulfillmentOrder.id == fulfillment_order_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def by_order(
    session: AsyncSession, tenant_id: str, order_id: str, integration_id: str
) -> FulfillmentOrder | None:
    return await session.scalar(
        select(FulfillmentOrder).where(
            FulfillmentOrder.tenant_id == tenant_id,
            FulfillmentOrder.order_id == order_id,
            FulfillmentOrder.integration_id == integration_id,
        )
    )


async def by_lab_reference(
    session: AsyncSession, integration_id: str, lab_order_id: str | None, reference: str | None
) -> FulfillmentOrder | None:
    """The order a lab's callback is about: by the lab's id, else by our reference."""
    if lab_order_id:
        found = await session.scalar(
            select(FulfillmentOrder).where(
                FulfillmentOrder.integration_id == integration_id,
                FulfillmentOrder.lab_order_id == lab_order_id,
            )
        )
        if found is not None:
            return found
    if reference:
        return await session.scalar(
            select(FulfillmentOrder).where(
                FulfillmentOrder.integration_id == integration_id,
                FulfillmentOrder.id == reference,
            )
        )
    return None


def list_stmt(tenant_id: str, status: str | None, order_id: str | None) -> Select[Any]:
    stmt = select(FulfillmentOrder).where(FulfillmentOrder.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(FulfillmentOrder.status == status)
    if order_id is not None:
        stmt = stmt.where(FulfillmentOrder.order_id == order_id)
    return stmt


async def timeline(session: AsyncSession, fulfillment_order_id: str) -> Sequence[FulfillmentEvent]:
    rows = await session.scalars(
        select(FulfillmentEvent)
        .where(FulfillmentEvent.fulfillment_order_id == fulfillment_order_id)
        .order_by(FulfillmentEvent.id)
    )
    return rows.all()


async def integration(
    session: AsyncSession, tenant_id: str, integration_id: str
) -> Integration | None:
    return await session.scalar(
        select(Integration).where(
            Integration.tenant_id == tenant_id, Integration.id == integration_id
        )
    )


async def mapping_for(
    session: AsyncSession,
    tenant_id: str,
    integration_id: str,
    product_id: str,
    variant_id: str | None,
) -> ProductMapping | None:
    """The variant's own mapping, else the product's (variant "")."""
    rows = await session.scalars(
        select(ProductMapping).where(
            ProductMapping.tenant_id == tenant_id,
            ProductMapping.integration_id == integration_id,
            ProductMapping.product_id == product_id,
            ProductMapping.variant_id.in_([variant_id or "", ""]),
        )
    )
    found = {row.variant_id: row for row in rows}
    return found.get(variant_id or "") or found.get("")


async def mapping(
    session: AsyncSession, tenant_id: str, integration_id: str, product_id: str, variant_id: str
) -> ProductMapping | None:
    return await session.scalar(
        select(ProductMapping).where(
            ProductMapping.tenant_id == tenant_id,
            ProductMapping.integration_id == integration_id,
            ProductMapping.product_id == product_id,
            ProductMapping.variant_id == variant_id,
        )
    )


def mappings_stmt(
    tenant_id: str, integration_id: str | None, product_id: str | None
) -> Select[Any]:
    stmt = select(ProductMapping).where(ProductMapping.tenant_id == tenant_id)
    if integration_id is not None:
        stmt = stmt.where(ProductMapping.integration_id == integration_id)
    if product_id is not None:
        stmt = stmt.where(ProductMapping.product_id == product_id)
    return stmt


async def catalog(session: AsyncSession, integration_id: str) -> Sequence[LabProductRow]:
    rows = await session.scalars(
        select(LabProductRow)
        .where(LabProductRow.integration_id == integration_id)
        .order_by(LabProductRow.lab_product_id)
    )
    return rows.all()


async def lab_product(
    session: AsyncSession, integration_id: str, lab_product_id: str
) -> LabProductRow | None:
    return await session.scalar(
        select(LabProductRow).where(
            LabProductRow.integration_id == integration_id,
            LabProductRow.lab_product_id == lab_product_id,
        )
    )


async def state(session: AsyncSession, integration_id: str) -> LabIntegrationState | None:
    return await session.get(LabIntegrationState, integration_id)
