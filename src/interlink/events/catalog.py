"""The built-in event types every tenant can subscribe to."""

from __future__ import annotations

BUILT_IN: dict[str, str] = {
    "order.created": "An order was placed.",
    "order.updated": "An order changed.",
    "order.fulfilled": "Every item of an order was fulfilled.",
    "gallery.created": "A gallery was created.",
    "gallery.delivered": "A gallery was delivered to its client.",
    "payment.authorized": "A payment was authorized.",
    "payment.captured": "An authorized payment was captured.",
    "payment.completed": "A payment completed.",
    "payment.failed": "A payment failed.",
    "payment.refunded": "A payment was refunded, in part or in full.",
    "payment.voided": "An authorization was voided.",
    "fulfillment.submitted": "An order was submitted to a print lab.",
    "fulfillment.accepted": "The lab accepted an order.",
    "fulfillment.rejected": "The lab rejected an order.",
    "fulfillment.shipped": "The lab shipped an order.",
    "shipment.tracking_updated": "A shipment's tracking changed.",
    "integration.degraded": "An integration started failing its health checks.",
    "integration.recovered": "An integration is healthy again.",
    "integration.credentials_expiring": "An integration's credentials expire soon.",
    "integration.auth_failed": "An integration's credentials were refused by its provider.",
    "webhook_endpoint.disabled": "A webhook endpoint was disabled (410 Gone or 5 days failing).",
    "webhook.test": "Sent by POST /v1/webhooks/{id}/test; never fanned out.",
}


def is_built_in(name: str) -> bool:
    return name in BUILT_IN
