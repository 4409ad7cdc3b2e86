"""WHCC Order Submit API: access token (renewed before it expires and once on a 401), catalog,
OrderImport then Submit, and callback registration with its verifier handshake.

Status arrives by WHCC's signed callbacks (``Processed``, ``Shipped``); the API has no status
query and no cancellation.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from interlink.kit.clock import now
from interlink.providers.base import GatewayContext, TestResult
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import ProviderResponse
from interlink.providers.labs import (
    LabAddress,
    LabDraftInvalid,
    LabOrder,
    LabProduct,
    LabRejected,
    LabStatus,
    LabSubmission,
    check_mapping_against,
)

SANDBOX_HOST = "https://sandbox.apps.whcc.com"
PRODUCTION_HOST = "https://apps.whcc.com"
TOKEN_LIFETIME = timedelta(hours=1)
RENEW_MARGIN = timedelta(minutes=2)
PERMANENT = {
    "400.01": "image hash mismatch",
    "400.02": "image missing",
    "412.01": "the order import is invalid",
    "412.02": "a business rule refused the order",
}


@dataclass
class _Token:
    value: str
    expires_at: datetime


# process-wide: one token per integration and key, renewed shortly before it expires
_tokens: dict[str, _Token] = {}
_token_locks: dict[str, asyncio.Lock] = {}


def forget_tokens() -> None:
    _tokens.clear()


def _base(ctx: GatewayContext) -> str:
    default = SANDBOX_HOST if ctx.environment == "sandbox" else PRODUCTION_HOST
    return str(ctx.settings.get("api_base") or default).rstrip("/")


def _token_key(ctx: GatewayContext) -> str:
    fingerprint = hashlib.sha256(str(ctx.credentials.get("consumer_key", "")).encode()).hexdigest()
    return f"{ctx.integration_id}:{fingerprint[:16]}"


def _parse_expiry(value: Any) -> datetime:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed
    return now() + TOKEN_LIFETIME


def _error(response: ProviderResponse) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        number = body.get("ErrorNumber")
        message = body.get("Message") or body.get("message")
        return (str(number) if number is not None else None, str(message or ""))
    return None, ""


def _auth_error(response: ProviderResponse) -> bool:
    number = _error(response)[0] if response.status >= 400 else None
    return response.status in (401, 403) or (number or "").startswith("403.")


def _address(address: LabAddress) -> dict[str, Any]:
    return {
        "Name": address.name,
        "Addr1": address.line1,
        "Addr2": address.line2 or "",
        "City": address.city,
        "State": address.state or "",
        "Zip": address.postal_code,
        "Country": address.country,
        "Phone": address.phone or "",
    }


def _uid(value: str) -> int | str:
    return int(value) if value.isdigit() else value


class WhccLab:
    async def test(self, ctx: GatewayContext) -> TestResult:
        await self._token(ctx, renew=True)
        return TestResult(ok=True, message="WHCC issued an access token.")

    async def execute(
        self, ctx: GatewayContext, capability: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        if capability == "SYNC_PRODUCTS":
            return {"products": [asdict(p) for p in await self.catalog(ctx)]}
        raise ProviderRejectedRequest(
            "Submit print orders with POST /v1/fulfillment/orders: it hashes the images and "
            "tracks the order."
        )

    def poll_interval(self, ctx: GatewayContext) -> float | None:
        return None

    async def _token(self, ctx: GatewayContext, *, renew: bool = False) -> str:
        key = _token_key(ctx)
        lock = _token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = _tokens.get(key)
            if not renew and cached is not None and cached.expires_at - RENEW_MARGIN > now():
                return cached.value
            response = await ctx.client.request(
                "GET",
                f"{_base(ctx)}/api/AccessToken",
                operation="whcc.access_token",
                params={
                    "grant_type": "consumer_credentials",
                    "consumer_key": str(ctx.credentials.get("consumer_key", "")),
                    "consumer_secret": str(ctx.credentials.get("consumer_secret", "")),
                },
            )
            if _auth_error(response):
                raise ProviderAuthFailed(f"WHCC refused the consumer key ({response.status}).")
            body = response.json() if response.ok else None
            if not isinstance(body, Mapping) or not body.get("Token"):
                raise ProviderUnavailable(
                    f"WHCC answered {response.status} without an access token.", retry_after=30
                )
            token = _Token(str(body["Token"]), _parse_expiry(body.get("ExpirationDate")))
            _tokens[key] = token
            return token.value

    async def _call(
        self,
        ctx: GatewayContext,
        method: str,
        path: str,
        operation: str,
        *,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        safe_to_retry: bool | None = None,
    ) -> ProviderResponse:
        for attempt in (1, 2):
            token = await self._token(ctx, renew=attempt == 2)
            response = await ctx.client.request(
                method,
                f"{_base(ctx)}{path}",
                operation=operation,
                headers={"Authorization": f"Bearer {token}"},
                json_body=json_body,
                data=data,
                safe_to_retry=safe_to_retry,
            )
            # 403.0x are WHCC's auth errors: a token it no longer honours gets one renewal
            if not _auth_error(response):
                break
        if response.status >= 500:
            raise ProviderUnavailable(f"WHCC answered {response.status}.", retry_after=30)
        if _auth_error(response):
            raise ProviderAuthFailed(f"WHCC refused the access token ({response.status}).")
        return response

    def _import_body(self, ctx: GatewayContext, order: LabOrder) -> dict[str, Any]:
        ship_from = order.ship_from or _settings_address(ctx.settings.get("ship_from"))
        items = [
            {
                "ProductUID": _uid(item.product_id),
                "Quantity": item.quantity,
                "ItemAssets": [
                    {
                        "ProductNodeID": _uid(asset.node_id or "1"),
                        "AssetPath": asset.url,
                        "ImageHash": asset.md5,
                        "PrintedFileName": asset.file_name or f"{item.reference}-{n}",
                        "AutoRotate": True,
                    }
                    for n, asset in enumerate(item.assets, start=1)
                ],
                "ItemAttributes": [{"AttributeUID": _uid(a)} for a in item.attributes],
            }
            for item in order.items
        ]
        return {
            "EntryId": order.reference,
            "Orders": [
                {
                    "SequenceNumber": 1,
                    "Reference": order.reference,
                    "ShipToAddress": _address(order.ship_to),
                    "ShipFromAddress": _address(ship_from or order.ship_to),
                    "OrderAttributes": [{"AttributeUID": _uid(a)} for a in order.attributes],
                    "OrderItems": items,
                }
            ],
        }

    async def prepare(self, ctx: GatewayContext, order: LabOrder) -> dict[str, Any]:
        response = await self._call(
            ctx,
            "POST",
            "/api/OrderImport",
            "whcc.order_import",
            json_body=self._import_body(ctx, order),
            safe_to_retry=True,  # an import that is never submitted places nothing
        )
        body = response.json() if response.body else None
        if response.ok and isinstance(body, Mapping) and body.get("ConfirmationID"):
            return {
                "confirmation_id": str(body["ConfirmationID"]),
                "orders": body.get("Orders") or [],
            }
        raise self._failure(response, "OrderImport")

    async def submit(
        self, ctx: GatewayContext, order: LabOrder, draft: Mapping[str, Any]
    ) -> LabSubmission:
        confirmation = str(draft["confirmation_id"])
        response = await self._call(
            ctx,
            "POST",
            f"/api/OrderImport/Submit/{confirmation}",
            "whcc.order_submit",
            safe_to_retry=True,  # a repeated Submit answers 412.04, handled below
        )
        number, _ = _error(response)
        if response.ok or number == "412.04":
            totals = {}
            orders = draft.get("orders")
            if isinstance(orders, list) and orders and isinstance(orders[0], Mapping):
                totals = {k: orders[0].get(k) for k in ("SubTotal", "Tax", "Total")}
            details = {"already_submitted": True} if number == "412.04" else {}
            return LabSubmission(confirmation, "submitted", totals, details)
        if number == "412.03":
            raise LabDraftInvalid(f"WHCC does not know confirmation {confirmation!r}.")
        raise self._failure(response, "Submit")

    def _failure(self, response: ProviderResponse, step: str) -> Exception:
        number, message = _error(response)
        if number in PERMANENT:
            return LabRejected(
                f"WHCC {number}: {message or PERMANENT[number]}", code=number, param="items"
            )
        if number == "412.04":
            return ProviderConflict(f"WHCC {number}: {message or 'already submitted'}")
        return ProviderRejectedRequest(
            f"WHCC answered {response.status} to {step}"
            + (f" ({number}: {message})" if number else ".")
        )

    async def status(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus | None:
        return None

    async def cancel(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus:
        raise ProviderConflict(
            "WHCC's API offers no cancellation: ask WHCC customer service to stop the order."
        )

    async def catalog(self, ctx: GatewayContext) -> list[LabProduct]:
        response = await self._call(ctx, "GET", "/api/Catalog", "whcc.catalog")
        body = response.json() if response.ok else None
        if not isinstance(body, Mapping):
            raise self._failure(response, "Catalog")
        products: list[LabProduct] = []
        for category in body.get("Categories") or []:
            if not isinstance(category, Mapping):
                continue
            for raw in category.get("ProductList") or []:
                if isinstance(raw, Mapping) and raw.get("Id") is not None:
                    products.append(_product(raw, str(category.get("Name") or "")))
        return products

    def check_mapping(
        self, product: LabProduct, attributes: Sequence[str], node_id: str | None
    ) -> str | None:
        return check_mapping_against(product, attributes, node_id)

    async def register_callback(self, ctx: GatewayContext, url: str) -> None:
        response = await self._call(
            ctx,
            "POST",
            "/api/callback/create",
            "whcc.callback_create",
            data={"callbackUri": url},
            safe_to_retry=True,
        )
        if not response.ok:
            raise self._failure(response, "callback/create")

    async def confirm_callback(self, ctx: GatewayContext, verifier: str) -> None:
        response = await self._call(
            ctx,
            "POST",
            "/api/callback/verify",
            "whcc.callback_verify",
            data={"verifier": verifier},
            safe_to_retry=True,
        )
        if not response.ok:
            raise self._failure(response, "callback/verify")


def _settings_address(raw: Any) -> LabAddress | None:
    if not isinstance(raw, Mapping):
        return None
    fields = {k: raw[k] for k in LabAddress.__dataclass_fields__ if k in raw}
    try:
        return LabAddress(**fields)
    except TypeError:
        return None


def _product(raw: Mapping[str, Any], category: str) -> LabProduct:
    nodes = tuple(
        {"id": str(n.get("DP2NodeID")), "width": n.get("W"), "height": n.get("H")}
        for n in raw.get("ProductNodes") or []
        if isinstance(n, Mapping)
    )
    attributes: list[dict[str, Any]] = []
    for group in raw.get("AttributeCategories") or []:
        if not isinstance(group, Mapping):
            continue
        for attribute in group.get("Attributes") or []:
            if isinstance(attribute, Mapping) and attribute.get("Id") is not None:
                attributes.append(
                    {
                        "id": str(attribute["Id"]),
                        "name": attribute.get("AttributeName"),
                        "category": group.get("AttributeCategoryName"),
                    }
                )
    return LabProduct(
        id=str(raw["Id"]),
        name=str(raw.get("Name") or raw["Id"]),
        nodes=nodes,
        attributes=tuple(attributes),
        details={"category": category},
    )
