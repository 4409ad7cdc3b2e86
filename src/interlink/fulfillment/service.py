"""Fulfillment orders: created from the API or from a platform event, read with their timeline,
cancelled, resubmitted by hand."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.pagination import PageParams, paginate
from interlink.fulfillment import repository, transitions
from interlink.fulfillment.exceptions import (
    FulfillmentOrderExists,
    FulfillmentOrderNotFound,
    MappingMissing,
    NotALab,
    NotCancellable,
    NotResubmittable,
)
from interlink.fulfillment.schemas import (
    FulfillmentOrderCreate,
    FulfillmentOrderRead,
    TimelineEntry,
    TrackingRead,
)
from interlink.fulfillment.submission import CANCEL_JOB, queue_submission
from interlink.integrations import links
from interlink.integrations import service as integrations
from interlink.integrations.exceptions import IntegrationNotFound
from interlink.jobs.enqueue import enqueue
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import FulfillmentOrder, Integration

PURPOSE = "fulfillment"
CANCELLABLE = frozenset({"pending", "needs_attention", "submitted", "accepted", "in_production"})
RESUBMITTABLE = frozenset({"needs_attention", "rejected", "cancelled"})


def to_read(
    order: FulfillmentOrder, timeline: list[TimelineEntry] | None = None
) -> FulfillmentOrderRead:
    return FulfillmentOrderRead(
        id=order.id,
        order_id=order.order_id,
        integration_id=order.integration_id,
        connection_code=order.connection_code,
        status=order.status,
        source=order.source,
        lab_order_id=order.lab_order_id,
        items=order.items,
        ship_to=order.ship_to,
        lab_attributes=order.attributes,
        totals=order.totals,
        tracking=[
            TrackingRead(**{**{"url": None, "shipped_at": None}, **t}) for t in order.tracking
        ],
        error_code=order.error_code,
        last_error=order.last_error,
        submissions=order.submissions,
        submitted_at=order.submitted_at,
        shipped_at=order.shipped_at,
        created=order.created_at,
        updated=order.updated_at,
        timeline=timeline,
    )


async def lab_integration(
    session: AsyncSession, tenant_id: str, integration_id: str | None, mode: str
) -> Integration:
    if integration_id is None:
        row = await links.resolve(session, tenant_id, PURPOSE, None, mode)
    else:
        found = await repository.integration(session, tenant_id, integration_id)
        if found is None:
            raise IntegrationNotFound(f"No integration {integration_id!r}.", param="integration_id")
        row = found
    if row.kind != "lab":
        raise NotALab(
            f"Integration {row.id!r} ({row.connection_code}) is not a print lab.",
            param="integration_id",
        )
    return row


async def resolve_items(
    session: AsyncSession, tenant_id: str, integration_id: str, items: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """Items with their lab product filled in from the product mappings, and the first item
    left without one (as ``items.N.product_id``)."""
    resolved, missing = [], None
    for index, item in enumerate(items):
        item = dict(item)
        if not item.get("lab_product_id") and item.get("product_id"):
            mapping = await repository.mapping_for(
                session, tenant_id, integration_id, item["product_id"], item.get("variant_id")
            )
            if mapping is not None:
                item["lab_product_id"] = mapping.lab_product_id
                item["lab_node_id"] = item.get("lab_node_id") or mapping.lab_node_id
                if item.get("lab_attributes") is None:
                    item["lab_attributes"] = list(mapping.lab_attributes)
        if not item.get("lab_product_id") and missing is None:
            missing = f"items.{index}.product_id"
        resolved.append(item)
    return resolved, missing


async def _insert(session: AsyncSession, order: FulfillmentOrder) -> bool:
    try:
        async with session.begin_nested():
            session.add(order)
    except IntegrityError:
        return False
    return True


def _new_order(
    tenant_id: str,
    order_id: str,
    integration: Integration,
    items: list[dict[str, Any]],
    ship_to: dict[str, Any],
    attributes: list[str],
    *,
    source: str,
    event_id: str | None = None,
) -> FulfillmentOrder:
    return FulfillmentOrder(
        id=new_id("ful"),
        tenant_id=tenant_id,
        order_id=order_id,
        integration_id=integration.id,
        connection_code=integration.connection_code,
        environment=integration.environment,
        status="pending",
        source=source,
        event_id=event_id,
        items=items,
        ship_to=ship_to,
        attributes=attributes,
        totals={},
        tracking=[],
        submissions=1,
        created_at=now(),
        updated_at=now(),
    )


async def create(
    session: AsyncSession, principal: Principal, body: FulfillmentOrderCreate
) -> FulfillmentOrderRead:
    tenant_id = principal.tenant_id
    integration = await lab_integration(session, tenant_id, body.integration_id, principal.mode)
    integrations.check_environment(principal, integration.environment, param="integration_id")
    raw_items = [item.model_dump(mode="json") for item in body.items]
    items, missing = await resolve_items(session, tenant_id, integration.id, raw_items)
    if missing is not None:
        index = int(missing.split(".")[1])
        raise MappingMissing(
            f"{missing}: product {raw_items[index].get('product_id')!r} has no mapping to a "
            f"product of lab integration {integration.id!r}; create one with POST "
            "/v1/fulfillment/product-mappings or give lab_product_id.",
            param=missing,
        )
    existing = await repository.by_order(session, tenant_id, body.order_id, integration.id)
    order = _new_order(
        tenant_id,
        body.order_id,
        integration,
        items,
        body.ship_to.model_dump(mode="json", exclude_none=True),
        body.lab_attributes,
        source="api",
    )
    if existing is not None or not await _insert(session, order):
        found = existing or await repository.by_order(
            session, tenant_id, body.order_id, integration.id
        )
        raise FulfillmentOrderExists(
            f"Order {body.order_id!r} was already sent to lab integration {integration.id!r} as "
            f"{found.id if found else 'another fulfillment order'}; resubmit it with POST "
            f"/v1/fulfillment/orders/{{id}}/resubmit.",
            param="order_id",
        )
    transitions.note(session, order, "pending", "Created through the API.")
    await queue_submission(session, order)
    return to_read(order, await _timeline(session, order))


async def _timeline(session: AsyncSession, order: FulfillmentOrder) -> list[TimelineEntry]:
    await session.flush()
    return [
        TimelineEntry(status=e.status, message=e.message, data=e.data, created=e.created_at)
        for e in await repository.timeline(session, order.id)
    ]


async def _require(session: AsyncSession, principal: Principal, order_id: str) -> FulfillmentOrder:
    order = await repository.get(session, principal.tenant_id, order_id)
    if order is None:
        raise FulfillmentOrderNotFound(f"No fulfillment order {order_id!r}.", param="id")
    return order


async def get(session: AsyncSession, principal: Principal, order_id: str) -> FulfillmentOrderRead:
    order = await _require(session, principal, order_id)
    return to_read(order, await _timeline(session, order))


async def page(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    status: str | None,
    order_id: str | None,
) -> tuple[list[FulfillmentOrderRead], bool]:
    stmt = repository.list_stmt(principal.tenant_id, status, order_id)
    rows, has_more = await paginate(session, stmt, FulfillmentOrder.id, params)
    return [to_read(r) for r in rows], has_more


async def cancel(
    session: AsyncSession, principal: Principal, order_id: str
) -> FulfillmentOrderRead:
    order = await _require(session, principal, order_id)
    if order.status not in CANCELLABLE:
        raise NotCancellable(
            f"Fulfillment order {order.id!r} is {order.status}; only an order that has not "
            "shipped can be cancelled.",
            param="id",
        )
    if order.lab_order_id is None or order.status == "needs_attention":
        await transitions.set_status(
            session, order, "cancelled", "Cancelled before the lab had it."
        )
    else:
        previous = order.status
        await transitions.set_status(session, order, "cancelling", "Cancellation asked of the lab.")
        await enqueue(
            session,
            CANCEL_JOB,
            key=f"{CANCEL_JOB}:{order.id}:{order.submissions}",
            fulfillment_order_id=order.id,
            previous=previous,
        )
    return to_read(order, await _timeline(session, order))


async def resubmit(
    session: AsyncSession, principal: Principal, order_id: str
) -> FulfillmentOrderRead:
    order = await _require(session, principal, order_id)
    if order.status not in RESUBMITTABLE:
        raise NotResubmittable(
            f"Fulfillment order {order.id!r} is {order.status}; only an order that needs "
            "attention, was rejected or was cancelled can be resubmitted.",
            param="id",
        )
    items, missing = await resolve_items(
        session, order.tenant_id, order.integration_id, order.items
    )
    if missing is not None:
        raise MappingMissing(
            f"{missing}: the product still has no lab mapping; create one with POST "
            "/v1/fulfillment/product-mappings first.",
            param=missing,
        )
    order.items = items
    order.draft = None
    order.lab_order_id = None
    order.submissions += 1
    order.error_code = None
    order.last_error = None
    await transitions.set_status(
        session, order, "pending", f"Resubmitted by hand (#{order.submissions})."
    )
    await queue_submission(session, order)
    return to_read(order, await _timeline(session, order))
