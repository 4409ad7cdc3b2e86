"""Lab callbacks that move a fulfillment order: WHCC's ``Processed`` and ``Shipped``. Runs inside
the inbound processing job's transaction; a redelivered callback changes nothing."""

from __future__ import annotations

from typing import Any

from interlink.fulfillment import repository, transitions
from interlink.providers.labs import LabStatus, Tracking
from interlink.webhooks_in.handlers import Handled, InboundContext


def whcc_status(event: str, payload: dict[str, Any]) -> LabStatus | None:
    if event == "Processed":
        if payload.get("Status") == "Accepted":
            return LabStatus("accepted", "WHCC accepted the order.")
        errors = payload.get("Errors") or []
        text = "; ".join(
            str(e.get("Message") or e.get("Error") or e) if isinstance(e, dict) else str(e)
            for e in errors
        )
        return LabStatus("rejected", f"WHCC rejected the order: {text or 'no reason given'}")
    if event == "Shipped":
        tracking = tuple(
            Tracking(
                carrier=s.get("Carrier"),
                number=s.get("TrackingNumber"),
                url=s.get("TrackingUrl"),
                shipped_at=s.get("ShipDate"),
            )
            for s in payload.get("ShippingInfo") or []
            if isinstance(s, dict)
        )
        return LabStatus("shipped", "WHCC shipped the order.", tracking)
    return None


async def apply_whcc(ctx: InboundContext) -> Handled | None:
    """None when the callback is about no fulfillment order of ours."""
    status = whcc_status(ctx.event_type, ctx.payload)
    if status is None:
        return None
    confirmation = ctx.payload.get("ConfirmationId") or ctx.payload.get("ConfirmationID")
    reference = ctx.payload.get("Reference")
    order = await repository.by_lab_reference(
        ctx.session,
        ctx.integration_id,
        str(confirmation) if confirmation else None,
        str(reference) if reference else None,
    )
    if order is None or order.tenant_id != ctx.tenant_id:
        return None
    changed = await transitions.apply_lab_status(
        ctx.session, order, status, source=f"webhook:{ctx.inbound_event_id}"
    )
    outcome = f"now {order.status}" if changed else f"unchanged ({order.status})"
    return Handled.processed(f"fulfillment order {order.id} {outcome}")
