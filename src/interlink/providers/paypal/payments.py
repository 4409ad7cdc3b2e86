"""PayPal Orders v2 / Payments v2 over the client layer (retries, breaker, rate limit, audit).

The payment-method token of a PayPal payment is the id of an order the buyer approved at PayPal
(created by the checkout front end with ``intent: AUTHORIZE``); it is also the provider reference
of the intent, because the order lists its authorization, captures and refunds. Every POST
carries the operation id as ``PayPal-Request-Id``, so the client layer may repeat it safely.
Refunds carry the operation id as ``custom_id`` so that a refund whose answer was lost is found.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from interlink.providers.base import GatewayContext
from interlink.providers.errors import (
    NotAvailableYet,
    ProviderAuthFailed,
    ProviderConflict,
    ProviderDeclined,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import ProviderResponse
from interlink.providers.payments import (
    AuthorizeRequest,
    PaymentStatus,
    ProviderPayment,
    ProviderRefund,
    ProviderSetup,
)

SANDBOX_BASE = "https://api-m.sandbox.paypal.com"
LIVE_BASE = "https://api-m.paypal.com"
REQUEST_ID = "PayPal-Request-Id"
ZERO_DECIMAL = frozenset({"jpy", "huf", "twd"})
DECLINES = frozenset({"INSTRUMENT_DECLINED", "PAYER_ACTION_REQUIRED", "TRANSACTION_REFUSED"})
AUTH_STATUS: dict[str, PaymentStatus] = {
    "CREATED": "authorized",
    "PARTIALLY_CAPTURED": "authorized",
    "CAPTURED": "captured",
    "VOIDED": "canceled",
    "EXPIRED": "canceled",
    "DENIED": "failed",
    "PENDING": "processing",
}
REFUND_STATUS = {"COMPLETED": "succeeded", "PENDING": "pending"}


def to_value(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL:
        return str(amount)
    return f"{Decimal(amount) / 100:.2f}"


def to_minor(value: str, currency: str) -> int:
    if currency.lower() in ZERO_DECIMAL:
        return int(Decimal(value))
    return int((Decimal(value) * 100).to_integral_value())


@dataclass
class _Token:
    value: str
    expires: float


_tokens: dict[tuple[str, str], _Token] = {}


class PayPalPaymentProvider:
    authorization_validity = timedelta(days=29)
    multiple_captures = True

    def _base(self, ctx: GatewayContext) -> str:
        default = SANDBOX_BASE if ctx.environment == "sandbox" else LIVE_BASE
        base = ctx.settings.get("api_base") if ctx.environment == "sandbox" else None
        return str(base or default).rstrip("/")

    async def _token(self, ctx: GatewayContext, *, fresh: bool = False) -> str:
        client_id = str(ctx.credentials["client_id"])
        key = (ctx.integration_id, client_id)
        cached = _tokens.get(key)
        if cached is not None and not fresh and cached.expires > time.monotonic():
            return cached.value
        basic = base64.b64encode(
            f"{client_id}:{ctx.credentials['client_secret']}".encode()
        ).decode()
        response = await ctx.client.request(
            "POST",
            f"{self._base(ctx)}/v1/oauth2/token",
            operation="token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
            safe_to_retry=True,  # a token request changes nothing
        )
        if response.status in (400, 401, 403):
            raise ProviderAuthFailed(f"PayPal refused the client credentials ({response.status}).")
        _check(response, "token")
        body = response.json() or {}
        token = _Token(
            str(body["access_token"]),
            time.monotonic() + max(60.0, float(body.get("expires_in", 3600)) - 60),
        )
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
        request_id: str | None = None,
    ) -> ProviderResponse:
        for fresh in (False, True):
            token = await self._token(ctx, fresh=fresh)
            response = await ctx.client.request(
                method,
                f"{self._base(ctx)}{path}",
                operation=operation,
                headers={"Authorization": f"Bearer {token}", "Prefer": "return=representation"},
                json_body=json_body,
                idempotency_key=request_id,
                idempotency_header=REQUEST_ID,
            )
            if response.status != 401:
                break
        if response.status == 401:
            raise ProviderAuthFailed("PayPal refused the access token twice.")
        _check(response, operation)
        return response

    async def _order(self, ctx: GatewayContext, order_id: str) -> dict[str, Any]:
        response = await self._call(ctx, "GET", f"/v2/checkout/orders/{order_id}", "retrieve")
        order: dict[str, Any] = response.json()
        return order

    async def authorize(self, ctx: GatewayContext, request: AuthorizeRequest) -> ProviderPayment:
        order = await self._order(ctx, request.payment_method)
        if not _payments(order).get("authorizations"):
            unit = order["purchase_units"][0]["amount"]
            currency = str(unit["currency_code"]).lower()
            amount = to_minor(str(unit["value"]), currency)
            if currency != request.currency or amount != request.amount:
                raise ProviderRejectedRequest(
                    f"The approved PayPal order is for {unit['value']} {unit['currency_code']}, "
                    "not the checkout's total.",
                    param="payment_method",
                )
            await self._call(
                ctx,
                "POST",
                f"/v2/checkout/orders/{request.payment_method}/authorize",
                "authorize",
                json_body={},
                request_id=request.idempotency_key,
            )
        return _normalize(await self._order(ctx, request.payment_method))

    async def capture(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        final: bool,
        idempotency_key: str,
    ) -> ProviderPayment:
        order = await self._order(ctx, reference)
        authorization = _authorization(order)
        currency = authorization["amount"]["currency_code"]
        await self._call(
            ctx,
            "POST",
            f"/v2/payments/authorizations/{authorization['id']}/capture",
            "capture",
            json_body={
                "amount": {"currency_code": currency, "value": to_value(amount, currency)},
                "final_capture": final,
            },
            request_id=idempotency_key,
        )
        return _normalize(await self._order(ctx, reference))

    async def void(
        self, ctx: GatewayContext, reference: str, *, idempotency_key: str
    ) -> ProviderPayment:
        authorization = _authorization(await self._order(ctx, reference))
        await self._call(
            ctx,
            "POST",
            f"/v2/payments/authorizations/{authorization['id']}/void",
            "void",
            request_id=idempotency_key,
        )
        return _normalize(await self._order(ctx, reference))

    async def refund(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        reason: str | None,
        idempotency_key: str,
    ) -> ProviderRefund:
        order = await self._order(ctx, reference)
        capture = _refundable_capture(order, amount)
        currency = capture["amount"]["currency_code"]
        body: dict[str, Any] = {
            "amount": {"currency_code": currency, "value": to_value(amount, currency)},
            "custom_id": idempotency_key,
        }
        if reason:
            body["note_to_payer"] = reason[:255]
        response = await self._call(
            ctx,
            "POST",
            f"/v2/payments/captures/{capture['id']}/refund",
            "refund",
            json_body=body,
            request_id=idempotency_key,
        )
        refund = response.json() or {}
        return _refund({"custom_id": idempotency_key, "amount": body["amount"], **refund})

    async def retrieve(self, ctx: GatewayContext, reference: str) -> ProviderPayment:
        return _normalize(await self._order(ctx, reference))

    async def setup(
        self, ctx: GatewayContext, payment_method: str, customer: str | None, idempotency_key: str
    ) -> ProviderSetup:
        raise NotAvailableYet("Saving payment methods through PayPal (vault) is not built yet.")


def _check(response: ProviderResponse, operation: str) -> None:
    if response.ok:
        return
    body = response.json() if response.body else {}
    body = body if isinstance(body, dict) else {}
    issues = {str(d.get("issue")) for d in body.get("details", []) if isinstance(d, dict)}
    name = str(body.get("name") or response.status)
    message = f"PayPal answered {response.status} {name} to {operation}"
    if issues:
        message += f" ({', '.join(sorted(issues))})"
    if response.status >= 500 or response.status in (408, 429):
        raise ProviderUnavailable(message + "; the outcome is unknown.", retry_after=5.0)
    if issues & DECLINES:
        raise ProviderDeclined(message, param="payment_method")
    if response.status == 422:
        raise ProviderConflict(message)
    if response.status in (401, 403):
        raise ProviderAuthFailed(message)
    raise ProviderRejectedRequest(message)


def _payments(order: dict[str, Any]) -> dict[str, Any]:
    units = order.get("purchase_units") or [{}]
    payments: dict[str, Any] = units[0].get("payments") or {}
    return payments


def _authorization(order: dict[str, Any]) -> dict[str, Any]:
    found = _payments(order).get("authorizations") or []
    if not found:
        raise ProviderConflict(f"PayPal order {order.get('id')} has no authorization.")
    authorization: dict[str, Any] = found[0]
    return authorization


def _refund(refund: dict[str, Any]) -> ProviderRefund:
    currency = refund["amount"]["currency_code"]
    status = REFUND_STATUS.get(str(refund.get("status")), "failed")
    return ProviderRefund(
        reference=str(refund["id"]),
        amount=to_minor(str(refund["amount"]["value"]), currency),
        status="succeeded"
        if status == "succeeded"
        else "pending"
        if status == "pending"
        else "failed",
        operation_id=refund.get("custom_id"),
        raw={k: refund.get(k) for k in ("id", "status", "amount")},
    )


def _refunded_by_capture(order: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for refund in _payments(order).get("refunds") or []:
        if refund.get("status") == "COMPLETED" or refund.get("status") == "PENDING":
            capture_id = str(refund.get("capture_id"))
            currency = refund["amount"]["currency_code"]
            totals[capture_id] = totals.get(capture_id, 0) + to_minor(
                str(refund["amount"]["value"]), currency
            )
    return totals


def _refundable_capture(order: dict[str, Any], amount: int) -> dict[str, Any]:
    refunded = _refunded_by_capture(order)
    for capture in _payments(order).get("captures") or []:
        if capture.get("status") not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            continue
        total = to_minor(str(capture["amount"]["value"]), capture["amount"]["currency_code"])
        if total - refunded.get(str(capture["id"]), 0) >= amount:
            found: dict[str, Any] = capture
            return found
    raise ProviderConflict(
        "No single PayPal capture of this order has that much left to refund; refund in parts."
    )


def _normalize(order: dict[str, Any]) -> ProviderPayment:
    unit = order["purchase_units"][0]["amount"]
    currency = str(unit["currency_code"])
    payments = _payments(order)
    authorizations = payments.get("authorizations") or []
    status: PaymentStatus = "processing"
    if authorizations:
        status = AUTH_STATUS.get(str(authorizations[0].get("status")), "processing")
    elif order.get("status") in ("CREATED", "SAVED", "PAYER_ACTION_REQUIRED"):
        status = "requires_action"
    elif order.get("status") == "VOIDED":
        status = "canceled"
    captured = sum(
        to_minor(str(c["amount"]["value"]), currency)
        for c in payments.get("captures") or []
        if c.get("status") in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")
    )
    refunds = tuple(_refund(r) for r in payments.get("refunds") or [])
    return ProviderPayment(
        reference=str(order["id"]),
        status=status,
        amount=to_minor(str(unit["value"]), currency),
        currency=currency.lower(),
        amount_captured=captured,
        amount_refunded=sum(r.amount for r in refunds if r.status == "succeeded"),
        refunds=refunds,
        next_action=(
            {"type": "paypal_approval", "order_id": order["id"]}
            if status == "requires_action"
            else None
        ),
        raw={"id": order.get("id"), "status": order.get("status")},
    )
