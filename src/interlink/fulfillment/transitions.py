"""Status changes of a fulfillment order: forward only, each one a timeline entry, and the
``fulfillment.*`` events published in the same transaction (their external ids make a repeated
transition publish nothing new)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.events.publish import publish
from interlink.kit.clock import now, rfc3339
from interlink.kit.ids import new_id
from interlink.models import FulfillmentEvent, FulfillmentOrder
from interlink.providers.labs import LabStatus

RANK = {"pending": 0, "submitted": 1, "accepted": 2, "in_production": 3, "shipped": 4}
FINAL = frozenset({"shipped", "cancelled"})
IN_FLIGHT = frozenset({"submitted", "accepted", "in_production"})


def summary(order: FulfillmentOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "object": "fulfillment_order",
        "order_id": order.order_id,
        "integration_id": order.integration_id,
        "provider": order.connection_code,
        "status": order.status,
        "lab_order_id": order.lab_order_id,
        "tracking": order.tracking,
        "error_code": order.error_code,
        "last_error": order.last_error,
        "created": rfc3339(order.created_at),
    }


def note(
    session: AsyncSession,
    order: FulfillmentOrder,
    status: str,
    message: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        FulfillmentEvent(
            id=new_id("fev"),
            tenant_id=order.tenant_id,
            fulfillment_order_id=order.id,
            status=status,
            message=message,
            data=data or {},
            created_at=now(),
        )
    )


async def announce(session: AsyncSession, order: FulfillmentOrder, event_type: str) -> None:
    await publish(
        session,
        order.tenant_id,
        event_type,
        {"object": summary(order)},
        external_id=f"{order.id}:{event_type}:{order.submissions}",
        source="fulfillment",
    )


async def set_status(
    session: AsyncSession,
    order: FulfillmentOrder,
    status: str,
    message: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    order.status = status
    order.updated_at = now()
    note(session, order, status, message, data)


async def needs_attention(
    session: AsyncSession,
    order: FulfillmentOrder,
    message: str,
    code: str | None,
    *,
    rejected: bool = True,
) -> None:
    order.last_error = message
    order.error_code = code
    await set_status(session, order, "needs_attention", message, {"code": code} if code else {})
    if rejected:
        await announce(session, order, "fulfillment.rejected")


async def apply_lab_status(
    session: AsyncSession, order: FulfillmentOrder, status: LabStatus, source: str
) -> bool:
    """Apply what the lab says now; returns whether anything changed. Stale or repeated news
    (an 'accepted' after 'shipped', a redelivered callback) changes nothing."""
    if order.status in FINAL:
        return False
    data = {"source": source, **({"details": dict(status.details)} if status.details else {})}
    if status.state == "rejected":
        if order.status == "needs_attention":
            return False
        await needs_attention(
            session, order, status.message or "The lab rejected the order.", "lab_rejected"
        )
        return True
    if status.state == "cancelled":
        await set_status(session, order, "cancelled", status.message, data)
        return True
    if order.status not in IN_FLIGHT and order.status != "cancelling":
        return False
    if RANK[status.state] <= RANK.get(order.status, 0):
        return False
    if status.state == "shipped":
        order.tracking = [
            {"carrier": t.carrier, "number": t.number, "url": t.url, "shipped_at": t.shipped_at}
            for t in status.tracking
        ]
        order.shipped_at = now()
    if RANK[status.state] >= RANK["accepted"] and RANK.get(order.status, 0) < RANK["accepted"]:
        if status.state != "accepted":
            note(session, order, "accepted", None, data)
        order.status = "accepted"
        await announce(session, order, "fulfillment.accepted")
    await set_status(session, order, status.state, status.message, data)
    if status.state == "shipped":
        await announce(session, order, "fulfillment.shipped")
    return True
