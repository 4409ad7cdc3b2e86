"""WHCC order updates and EasyPost tracker updates, published as Interlink events."""

from __future__ import annotations

from typing import Any

from interlink.events.publish import publish
from interlink.fulfillment.inbound import apply_whcc
from interlink.webhooks_in.handlers import Handled, InboundContext, inbound_handler


async def _publish(ctx: InboundContext, event_type: str, data: dict[str, Any]) -> Handled:
    # the inbound event's id de-duplicates the publish, so a replay publishes nothing new
    event = await publish(
        ctx.session,
        ctx.tenant_id,
        event_type,
        data,
        external_id=f"inbound:{ctx.inbound_event_id}",
        source=ctx.connection_code,
    )
    return Handled.processed(f"published {event.type} {event.id}")


def _whcc_data(ctx: InboundContext) -> dict[str, Any]:
    p = ctx.payload
    return {
        "integration_id": ctx.integration_id,
        "provider": "whcc",
        "confirmation_id": p.get("ConfirmationId"),
        "order_number": p.get("OrderNumber"),
        "reference": p.get("Reference"),
        "sequence_number": p.get("SequenceNumber"),
    }


@inbound_handler("whcc", "Processed")
async def whcc_processed(ctx: InboundContext) -> Handled:
    # an order Interlink submitted moves (and publishes its own events); others are announced
    handled = await apply_whcc(ctx)
    if handled is not None:
        return handled
    accepted = ctx.payload.get("Status") == "Accepted"
    data = {
        **_whcc_data(ctx),
        "status": "accepted" if accepted else "rejected",
        "errors": ctx.payload.get("Errors") or [],
    }
    return await _publish(ctx, "fulfillment.accepted" if accepted else "fulfillment.rejected", data)


@inbound_handler("whcc", "Shipped")
async def whcc_shipped(ctx: InboundContext) -> Handled:
    handled = await apply_whcc(ctx)
    if handled is not None:
        return handled
    shipments = [
        {
            "carrier": s.get("Carrier"),
            "ship_date": s.get("ShipDate"),
            "tracking_number": s.get("TrackingNumber"),
            "tracking_url": s.get("TrackingUrl"),
        }
        for s in ctx.payload.get("ShippingInfo") or []
        if isinstance(s, dict)
    ]
    return await _publish(ctx, "fulfillment.shipped", {**_whcc_data(ctx), "shipments": shipments})


@inbound_handler("easypost", "tracker.updated")
async def easypost_tracker_updated(ctx: InboundContext) -> Handled:
    result = ctx.payload.get("result")
    tracker = result if isinstance(result, dict) else {}
    details = tracker.get("tracking_details")
    last = (
        details[-1]
        if isinstance(details, list) and details and isinstance(details[-1], dict)
        else {}
    )
    data = {
        "integration_id": ctx.integration_id,
        "provider": "easypost",
        "tracker_id": tracker.get("id"),
        "shipment_id": tracker.get("shipment_id"),
        "tracking_code": tracker.get("tracking_code"),
        "carrier": tracker.get("carrier"),
        "status": tracker.get("status"),
        "status_detail": tracker.get("status_detail"),
        "est_delivery_date": tracker.get("est_delivery_date"),
        "public_url": tracker.get("public_url"),
        "last_event": {
            "message": last.get("message"),
            "status": last.get("status"),
            "datetime": last.get("datetime"),
        }
        if last
        else None,
    }
    return await _publish(ctx, "shipment.tracking_updated", data)
