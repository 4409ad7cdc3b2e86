"""Miller's / Mpix as a preset of the generic REST lab adapter.

Only an overview of the Mpix Fulfillment API is public (headers ``X-MpixApi-Token`` and
``X-MpixUser``; order session → image upload → order; polling or one shipped callback). The field
names below are our defaults; the exact ones are given at onboarding, so every part of this preset
can be overridden in the integration's settings (deep-merged over it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.providers.base import GatewayContext
from interlink.providers.generic_lab import GenericLab, deep_merge

MPIX_API = "https://api.mpix.com"
MPIX_PRESET: dict[str, Any] = {
    "base_url": MPIX_API,
    "headers": {
        "X-MpixApi-Token": "{{credentials.api_token}}",
        "X-MpixUser": "{{credentials.user}}",
    },
    "steps": [
        {
            "name": "session",
            "method": "POST",
            "path": "/orders/session",
            "body": {"Reference": "{{order.reference}}"},
            "save": {"session_id": "/SessionId", "upload_url": "/UploadUrl"},
        },
        {
            "name": "upload",
            "for_each": "asset",
            "method": "POST",
            "path": "{{steps.session.upload_url}}",
            "upload": "raw",
            "save": {"image_id": "/ImageId"},
        },
        {
            "name": "order",
            "method": "POST",
            "path": "/orders",
            "idempotency_header": "Idempotency-Key",
            "body": {
                "SessionId": "{{steps.session.session_id}}",
                "Reference": "{{order.reference}}",
                "ShipTo": {
                    "Name": "{{order.ship_to.name}}",
                    "Address1": "{{order.ship_to.line1}}",
                    "Address2": "{{order.ship_to.line2}}",
                    "City": "{{order.ship_to.city}}",
                    "State": "{{order.ship_to.state}}",
                    "Zip": "{{order.ship_to.postal_code}}",
                    "Country": "{{order.ship_to.country}}",
                },
                "Items": {
                    "$each": "order.items",
                    "$map": {
                        "ProductId": "{{item.product_id}}",
                        "Quantity": "{{item.quantity}}",
                        "Images": {
                            "$each": "item.assets",
                            "$map": {"ImageId": "{{asset.image_id}}", "Md5": "{{asset.md5}}"},
                        },
                    },
                },
            },
        },
    ],
    "response": {
        "order_id": "/OrderId",
        "status": "/Status",
        "message": "/Message",
        "tracking_number": "/TrackingNumber",
        "carrier": "/Carrier",
        "tracking_url": "/TrackingUrl",
        "status_map": {
            "Received": "submitted",
            "InProduction": "in_production",
            "Shipped": "shipped",
            "Cancelled": "cancelled",
            "Rejected": "rejected",
        },
    },
    "status": {
        "mode": "poll",
        "method": "GET",
        "path": "/orders/{{lab_order_id}}",
        "interval_seconds": 900,
    },
    "errors": {"message": "/Message", "code": "/Code"},
}


def mpix_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    overrides = {k: v for k, v in settings.items() if k not in ("submit_on",)}
    if "api_base" in overrides and "base_url" not in overrides:
        overrides["base_url"] = overrides["api_base"]
    return deep_merge(MPIX_PRESET, overrides)


class MpixLab(GenericLab):
    lab_name = "Miller's / Mpix"

    def config(self, ctx: GatewayContext) -> Mapping[str, Any]:
        return mpix_config(ctx.settings)
