"""Stripe and PayPal payment events, normalised into ``ProviderPaymentUpdate``s for payments."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from interlink.webhooks_in import payments_bridge
from interlink.webhooks_in.handlers import (
    Handled,
    InboundContext,
    MalformedEvent,
    inbound_handler,
)
from interlink.webhooks_in.payments_bridge import PaymentStatus, ProviderPaymentUpdate

# PayPal's currencies without minor units
ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD", "KRW", "CLP", "VND", "ISK"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def _hand_over(ctx: InboundContext, update: ProviderPaymentUpdate) -> Handled:
    result = await payments_bridge.apply(ctx.session, ctx.tenant_id, ctx.integration_id, update)
    if result.matched:
        return Handled.processed(result.reason)
    return Handled.ignored(result.reason)


def stripe_update(payload: dict[str, Any], status: PaymentStatus) -> ProviderPaymentUpdate:
    obj = _dict(_dict(payload.get("data")).get("object"))
    reference = _str(obj.get("id"))
    if reference is None:
        raise MalformedEvent("data.object.id is missing")
    currency = _str(obj.get("currency"))
    error = _dict(obj.get("last_payment_error"))
    return ProviderPaymentUpdate(
        provider="stripe",
        provider_reference=reference,
        status=status,
        amount=_int(obj.get("amount")),
        currency=currency.lower() if currency else None,
        amount_captured=_int(obj.get("amount_received")),
        provider_event_id=_str(payload.get("id")),
        failure_reason=_str(error.get("message")) or _str(error.get("code")),
    )


def stripe_refund_update(payload: dict[str, Any]) -> ProviderPaymentUpdate:
    charge = _dict(_dict(payload.get("data")).get("object"))
    charge_id = _str(charge.get("id"))
    intent = _str(charge.get("payment_intent"))
    if charge_id is None:
        raise MalformedEvent("data.object.id is missing")
    amount = _int(charge.get("amount"))
    refunded = _int(charge.get("amount_refunded"))
    full = charge.get("refunded") is True or (
        amount is not None and refunded is not None and refunded >= amount
    )
    currency = _str(charge.get("currency"))
    return ProviderPaymentUpdate(
        provider="stripe",
        provider_reference=intent or charge_id,
        status="refunded" if full else "partially_refunded",
        amount=amount,
        currency=currency.lower() if currency else None,
        amount_captured=_int(charge.get("amount_captured")),
        amount_refunded=refunded,
        related_reference=charge_id,
        provider_event_id=_str(payload.get("id")),
    )


STRIPE_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": "captured",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
}


def _register_stripe(event_type: str, status: PaymentStatus) -> None:
    @inbound_handler("stripe", event_type)
    async def handle(ctx: InboundContext) -> Handled:
        return await _hand_over(ctx, stripe_update(ctx.payload, status))


for _type, _status in STRIPE_INTENT_STATUSES.items():
    _register_stripe(_type, _status)


@inbound_handler("stripe", "charge.refunded")
async def stripe_charge_refunded(ctx: InboundContext) -> Handled:
    return await _hand_over(ctx, stripe_refund_update(ctx.payload))


def minor_units(value: Any, currency: str | None) -> int | None:
    if not isinstance(value, str) or currency is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    exponent = 0 if currency.upper() in ZERO_DECIMAL else 2
    return int((amount * (10**exponent)).to_integral_value())


def _up_link(resource: dict[str, Any], segment: str) -> str | None:
    for link in resource.get("links") or []:
        link = _dict(link)
        href = _str(link.get("href"))
        if link.get("rel") == "up" and href and f"/{segment}/" in href:
            return href.rstrip("/").rsplit("/", 1)[-1]
    return None


def paypal_update(payload: dict[str, Any], status: PaymentStatus) -> ProviderPaymentUpdate:
    resource = _dict(payload.get("resource"))
    resource_id = _str(resource.get("id"))
    if resource_id is None:
        raise MalformedEvent("resource.id is missing")
    money = _dict(resource.get("amount"))
    currency = _str(money.get("currency_code"))
    amount = minor_units(money.get("value"), currency)
    related = _dict(_dict(resource.get("supplementary_data")).get("related_ids"))
    reference, related_reference = resource_id, _str(related.get("authorization_id"))
    refunded: int | None = None
    if status == "refunded":
        # the resource is the refund; the payment it refunds is the capture linked as "up"
        reference = _up_link(resource, "captures") or resource_id
        related_reference = resource_id
        refunded = amount
    return ProviderPaymentUpdate(
        provider="paypal",
        provider_reference=reference,
        status=status,
        amount=amount,
        currency=currency.lower() if currency else None,
        amount_captured=amount if status == "captured" else None,
        amount_refunded=refunded,
        related_reference=related_reference,
        provider_event_id=_str(payload.get("id")),
        failure_reason=_str(_dict(resource.get("status_details")).get("reason")),
    )


PAYPAL_STATUSES: dict[str, PaymentStatus] = {
    "PAYMENT.AUTHORIZATION.CREATED": "authorized",
    "PAYMENT.AUTHORIZATION.VOIDED": "canceled",
    "PAYMENT.CAPTURE.COMPLETED": "captured",
    "PAYMENT.CAPTURE.DENIED": "failed",
    "PAYMENT.CAPTURE.REFUNDED": "refunded",
}


def _register_paypal(event_type: str, status: PaymentStatus) -> None:
    @inbound_handler("paypal", event_type)
    async def handle(ctx: InboundContext) -> Handled:
        return await _hand_over(ctx, paypal_update(ctx.payload, status))


for _type, _status in PAYPAL_STATUSES.items():
    _register_paypal(_type, _status)
