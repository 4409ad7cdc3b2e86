"""The sandbox print lab as a ``LabProvider``: it accepts an order, "prints" it and "ships" it on a
timer, so polling jobs with delays show a newcomer the whole flow without any account.

The lab order id carries the submission time; status is a function of the time elapsed since
(``accept_after_seconds``, ``ship_after_seconds`` in the integration's settings), read from the
injectable clock. Lab product ``sbx_reject`` is refused as a business rule (WHCC's 412.02).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from interlink.kit.clock import now
from interlink.providers.base import GatewayContext
from interlink.providers.errors import ProviderConflict, ProviderRejectedRequest
from interlink.providers.labs import (
    LabOrder,
    LabProduct,
    LabRejected,
    LabStatus,
    LabSubmission,
    Tracking,
    check_mapping_against,
)
from interlink.providers.sandbox import SANDBOX_PRODUCTS, SandboxLab, _check_credentials, _digest

REJECTED_PRODUCT = "sbx_reject"
SANDBOX_ATTRIBUTES = ({"id": "glossy", "name": "Glossy"}, {"id": "matte", "name": "Matte"})


class SandboxLabProvider(SandboxLab):
    def poll_interval(self, ctx: GatewayContext) -> float | None:
        return float(ctx.settings.get("poll_interval_seconds", 2))

    async def prepare(self, ctx: GatewayContext, order: LabOrder) -> dict[str, Any]:
        _check_credentials(ctx)
        known = {p["id"] for p in SANDBOX_PRODUCTS}
        for index, item in enumerate(order.items):
            if item.product_id == REJECTED_PRODUCT:
                raise LabRejected(
                    f"Business rule: the sandbox lab refuses product {REJECTED_PRODUCT!r}.",
                    code="412.02",
                    param=f"items.{index}.product_id",
                )
            if item.product_id not in known:
                raise LabRejected(
                    f"The sandbox lab has no product {item.product_id!r}.",
                    code="412.01",
                    param=f"items.{index}.product_id",
                )
        return {"prepared_at": int(now().timestamp())}

    async def submit(
        self, ctx: GatewayContext, order: LabOrder, draft: Mapping[str, Any]
    ) -> LabSubmission:
        _check_credentials(ctx)
        prices = {str(p["id"]): int(str(p["price"])) for p in SANDBOX_PRODUCTS}
        total = sum(prices.get(i.product_id, 0) * i.quantity for i in order.items)
        stamp = int(str(draft.get("prepared_at") or int(now().timestamp())))
        lab_order_id = f"sbxlab_{stamp}_{_digest(ctx.integration_id, order.reference)}"
        return LabSubmission(lab_order_id, "submitted", {"subtotal": total, "currency": "usd"})

    async def status(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus | None:
        _check_credentials(ctx)
        elapsed = self._elapsed(lab_order_id)
        accept_after = float(ctx.settings.get("accept_after_seconds", 3))
        ship_after = float(ctx.settings.get("ship_after_seconds", 10))
        if elapsed >= ship_after:
            tracking = Tracking("SandboxPost", f"SBX{lab_order_id[-10:].upper()}")
            return LabStatus("shipped", "Shipped by the sandbox lab.", (tracking,))
        if elapsed >= accept_after:
            return LabStatus("accepted", "Accepted by the sandbox lab.")
        return LabStatus("submitted")

    async def cancel(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus:
        _check_credentials(ctx)
        if self._elapsed(lab_order_id) >= float(ctx.settings.get("ship_after_seconds", 10)):
            raise ProviderConflict("The sandbox lab already shipped this order.")
        return LabStatus("cancelled", "Cancelled at the sandbox lab.")

    async def catalog(self, ctx: GatewayContext) -> list[LabProduct]:
        _check_credentials(ctx)
        return [
            LabProduct(
                id=str(p["id"]),
                name=str(p["name"]),
                nodes=({"id": "1", "width": p["width_in"], "height": p["height_in"]},),
                attributes=SANDBOX_ATTRIBUTES,
                details={"price": p["price"], "currency": "usd"},
            )
            for p in SANDBOX_PRODUCTS
        ]

    def check_mapping(
        self, product: LabProduct, attributes: Sequence[str], node_id: str | None
    ) -> str | None:
        return check_mapping_against(product, attributes, node_id)

    @staticmethod
    def _elapsed(lab_order_id: str) -> float:
        try:
            stamp = int(lab_order_id.split("_")[1])
        except (IndexError, ValueError):
            raise ProviderRejectedRequest(
                f"{lab_order_id!r} is not a sandbox lab order id."
            ) from None
        return now().timestamp() - stamp
