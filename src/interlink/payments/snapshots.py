"""Checkout snapshots: the priced checkout, frozen, that an authorization must match."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.config import Settings
from interlink.errors import ValidationFailed
from interlink.integrations.exceptions import NoIntegrationConfigured
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import CheckoutSnapshot
from interlink.payments import access
from interlink.payments.schemas import QuoteRequest, SnapshotRead, Totals

MAX_TOTAL = 99_999_999_999


def price(body: QuoteRequest) -> tuple[list[dict[str, Any]], Totals]:
    items = [
        {
            "variant_id": item.variant_id,
            "name": item.name,
            "quantity": item.quantity,
            "unit_amount": item.unit_amount,
            "amount": item.unit_amount * item.quantity,
        }
        for item in body.items
    ]
    subtotal = sum(item.unit_amount * item.quantity for item in body.items)
    discount = sum(d.amount for d in body.discounts)
    if discount > subtotal:
        raise ValidationFailed(
            f"The discounts ({discount}) exceed the items' subtotal ({subtotal}).",
            param="discounts",
        )
    shipping = body.shipping.amount if body.shipping else 0
    tax = 0
    if body.tax is not None:
        if body.tax.amount is not None and body.tax.rate_bps is not None:
            raise ValidationFailed("Give tax.amount or tax.rate_bps, not both.", param="tax")
        if body.tax.amount is not None:
            tax = body.tax.amount
        elif body.tax.rate_bps is not None:
            tax = (subtotal - discount + shipping) * body.tax.rate_bps // 10_000
    total = subtotal - discount + shipping + tax
    if total <= 0:
        raise ValidationFailed("The checkout total must be greater than zero.", param="items")
    if total > MAX_TOTAL:
        raise ValidationFailed("The checkout total is too large.", param="items")
    return items, Totals(
        subtotal=subtotal, discount=discount, shipping=shipping, tax=tax, total=total
    )


def to_read(row: CheckoutSnapshot) -> SnapshotRead:
    return SnapshotRead(
        snapshot_id=row.id,
        order_id=row.order_id,
        currency=row.currency,
        items=row.items,
        discounts=row.discounts,
        totals=Totals(
            subtotal=row.subtotal,
            discount=row.discount_total,
            shipping=row.shipping_total,
            tax=row.tax_total,
            total=row.total,
        ),
        providers=row.providers,
        expires_at=row.expires_at,
        created=row.created_at,
    )


async def create(
    session: AsyncSession, principal: Principal, settings: Settings, body: QuoteRequest
) -> SnapshotRead:
    items, totals = price(body)
    providers: dict[str, Any] = {
        "payments": None,
        "shipping": body.shipping.provider if body.shipping else None,
        "tax": body.tax.provider if body.tax else None,
    }
    try:
        integration = await access.choose(
            session, principal, body.payment_integration_id, None, param="payment_integration_id"
        )
        providers["payments"] = {
            "integration_id": integration.id,
            "connection_code": integration.connection_code,
        }
    except NoIntegrationConfigured:
        if body.payment_integration_id is not None:
            raise
    ttl = (
        timedelta(seconds=body.expires_in_seconds)
        if body.expires_in_seconds is not None
        else timedelta(minutes=settings.checkout_snapshot_ttl_minutes)
    )
    created = now()
    row = CheckoutSnapshot(
        id=new_id("cs"),
        tenant_id=principal.tenant_id,
        order_id=body.order_id,
        currency=body.currency,
        items=items,
        discounts=[d.model_dump() for d in body.discounts],
        shipping=body.shipping.model_dump() if body.shipping else None,
        tax=body.tax.model_dump() if body.tax else None,
        subtotal=totals.subtotal,
        discount_total=totals.discount,
        shipping_total=totals.shipping,
        tax_total=totals.tax,
        total=totals.total,
        providers=providers,
        expires_at=created + ttl,
        created_at=created,
    )
    session.add(row)
    await session.flush()
    return to_read(row)
