"""Sandbox connections: one per kind that needs no account anywhere. Each gateway answers every
capability deterministically in-process, so the whole flow can be tried right after ``make run``.

Magic values make failures reproducible: payment method ``pm_card_declined`` is declined,
``pm_provider_down`` behaves like an outage; credentials ``api_key = "sbx_invalid"`` are refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from interlink.providers.base import (
    CapabilitySpec,
    ConnectionSpec,
    GatewayContext,
    TestResult,
)
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderDeclined,
    ProviderFailure,
    ProviderUnavailable,
)
from interlink.providers.http import CallRecord, redact_value

SANDBOX_CREDENTIALS = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "pattern": "^sbx_[A-Za-z0-9_]+$",
            "description": "Any value starting with sbx_ (optional); sbx_invalid is refused.",
        }
    },
    "additionalProperties": False,
}
SANDBOX_SETTINGS = {
    "type": "object",
    "properties": {"label": {"type": "string", "maxLength": 200}},
    "additionalProperties": False,
}
MONEY = {"type": "integer", "minimum": 1, "description": "Minor units."}
CURRENCY = {"type": "string", "pattern": "^[a-zA-Z]{3}$"}
ADDRESS = {
    "type": "object",
    "properties": {
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "postal_code": {"type": "string", "maxLength": 20},
        "state": {"type": "string", "maxLength": 50},
    },
    "required": ["country"],
}


def _digest(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _check_credentials(ctx: GatewayContext) -> None:
    if ctx.credentials.get("api_key") == "sbx_invalid":
        raise ProviderAuthFailed("The sandbox refused the API key 'sbx_invalid'.")


class SandboxGateway:
    """Answers in-process, but records each operation through the client layer's audit sink as
    if it were a provider call (``sandbox://…`` URLs), so logs and the dashboard work the same."""

    async def test(self, ctx: GatewayContext) -> TestResult:
        await self._simulate(ctx, "test", "GET", "/ping", None, lambda: None)
        return TestResult(ok=True, message="Sandbox credentials accepted.")

    async def execute(
        self, ctx: GatewayContext, capability: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        handler = getattr(self, "do_" + capability.lower())
        result: dict[str, Any] = await self._simulate(
            ctx,
            capability,
            "POST",
            f"/{capability.lower()}",
            parameters,
            lambda: handler(ctx, parameters),
        )
        return result

    async def _simulate(
        self,
        ctx: GatewayContext,
        operation: str,
        method: str,
        path: str,
        parameters: Mapping[str, Any] | None,
        run: Callable[[], Any],
    ) -> Any:
        started = time.perf_counter()
        status, outcome, error, result = 200, "ok", None, None
        try:
            _check_credentials(ctx)
            result = run()
            return result
        except ProviderFailure as exc:
            status, outcome = _SIMULATED_STATUS.get(type(exc), (400, "http_error"))
            error = exc.message
            raise
        finally:
            await ctx.client.audit(
                CallRecord(
                    operation=operation,
                    method=method,
                    url=f"sandbox://{type(self).__name__.lower()}{path}",
                    status_code=status if outcome != "network_error" else None,
                    outcome=outcome,
                    error=error,
                    latency_ms=round((time.perf_counter() - started) * 1000, 3),
                    attempt=1,
                    correlation_id=ctx.client.correlation_id,
                    request_excerpt=json.dumps(redact_value(dict(parameters)))[:2000]
                    if parameters is not None
                    else None,
                    response_excerpt=json.dumps(redact_value(result))[:2000]
                    if result is not None
                    else None,
                )
            )


_SIMULATED_STATUS: dict[type[ProviderFailure], tuple[int, str]] = {
    ProviderAuthFailed: (401, "http_error"),
    ProviderDeclined: (402, "http_error"),
    ProviderConflict: (409, "http_error"),
    ProviderUnavailable: (503, "network_error"),
}


class SandboxPayments(SandboxGateway):
    def do_process_payment(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        method = p.get("payment_method", "pm_card_visa")
        if method == "pm_card_declined":
            raise ProviderDeclined("The card was declined (sandbox card pm_card_declined).")
        if method == "pm_provider_down":
            raise ProviderUnavailable("The sandbox payment provider is down.", retry_after=30)
        ref = _digest(ctx.integration_id, p)
        return {
            "id": f"sbx_pay_{ref}",
            "status": "succeeded",
            "amount": p["amount"],
            "currency": p["currency"].lower(),
            "payment_method": method,
        }

    def do_refund_payment(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        if not str(p["payment_id"]).startswith("sbx_pay_"):
            raise ProviderConflict(f"No sandbox payment {p['payment_id']!r} to refund.")
        return {
            "id": f"sbx_re_{_digest(ctx.integration_id, p)}",
            "status": "succeeded",
            "payment_id": p["payment_id"],
            "amount": p.get("amount"),
        }


SANDBOX_PRODUCTS = [
    {"id": "sbx_print_4x6", "name": "Print 4x6", "width_in": 4, "height_in": 6, "price": 45},
    {"id": "sbx_print_8x10", "name": "Print 8x10", "width_in": 8, "height_in": 10, "price": 350},
    {
        "id": "sbx_canvas_16x20",
        "name": "Canvas 16x20",
        "width_in": 16,
        "height_in": 20,
        "price": 8900,
    },
]


class SandboxLab(SandboxGateway):
    def do_submit_lab_order(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        prices = {prod["id"]: prod["price"] for prod in SANDBOX_PRODUCTS}
        total = 0
        for index, item in enumerate(p["items"]):
            if item["product_id"] not in prices:
                raise ProviderDeclined(
                    f"The sandbox lab has no product {item['product_id']!r}.",
                    param=f"parameters.items.{index}.product_id",
                )
            total += prices[item["product_id"]] * item["quantity"]
        return {
            "order_id": f"sbx_lab_{_digest(ctx.integration_id, p)}",
            "status": "accepted",
            "reference": p["reference"],
            "subtotal": total,
            "currency": "usd",
        }

    def do_sync_products(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"products": SANDBOX_PRODUCTS}


class SandboxShipping(SandboxGateway):
    def do_quote_shipping(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        grams = p["weight_grams"]
        domestic = p["to"]["country"] == p.get("from", {"country": "US"})["country"]
        base = 500 if domestic else 1800
        return {
            "rates": [
                {"service": "ground", "amount": base + grams // 10, "currency": "usd", "days": 5},
                {
                    "service": "express",
                    "amount": 2 * base + grams // 5,
                    "currency": "usd",
                    "days": 2,
                },
            ]
        }


# basis points by country, and by US state where one is given
TAX_RATES = {"US": 0, "DE": 1900, "FR": 2000, "GB": 2000, "CA": 500}
US_STATE_RATES = {"CA": 725, "NY": 400, "TX": 625, "WA": 650}


class SandboxTax(SandboxGateway):
    def do_quote_tax(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        address = p["to"]
        rate = TAX_RATES.get(address["country"], 0)
        if address["country"] == "US":
            rate = US_STATE_RATES.get(address.get("state", ""), 0)
        taxable = p["amount"] + p.get("shipping", 0)
        return {
            "amount_to_collect": taxable * rate // 10_000,
            "rate_bps": rate,
            "currency": p["currency"].lower(),
            "taxable_amount": taxable,
        }


class SandboxEmail(SandboxGateway):
    def do_send_email(self, ctx: GatewayContext, p: Mapping[str, Any]) -> dict[str, Any]:
        if str(p["to"]).endswith("@bounce.test"):
            raise ProviderDeclined(
                f"The sandbox mailbox {p['to']!r} rejects mail.", param="parameters.to"
            )
        return {"message_id": f"sbx_msg_{_digest(ctx.integration_id, p)}", "status": "sent"}


def _sandbox(
    code: str, name: str, kind: Any, gateway: type[SandboxGateway], caps: tuple[CapabilitySpec, ...]
) -> ConnectionSpec:
    return ConnectionSpec(
        code=code,
        display_name=name,
        description=f"{name}: deterministic, in-process, no account needed. For trying Interlink.",
        kind=kind,
        status="active",
        auth_type="api_key",
        credentials_schema=SANDBOX_CREDENTIALS,
        settings_schema=SANDBOX_SETTINGS,
        capabilities=caps,
        gateway=gateway,
        environments=("sandbox",),
        rate_limit="100/second",
    )


PROCESS_PAYMENT = CapabilitySpec(
    "PROCESS_PAYMENT",
    "Charge an amount in minor units.",
    {
        "type": "object",
        "properties": {
            "amount": MONEY,
            "currency": CURRENCY,
            "payment_method": {"type": "string", "maxLength": 100},
            "customer": {"type": "string", "maxLength": 100},
            "description": {"type": "string", "maxLength": 500},
        },
        "required": ["amount", "currency"],
        "additionalProperties": False,
    },
)
REFUND_PAYMENT = CapabilitySpec(
    "REFUND_PAYMENT",
    "Refund a payment in full or in part.",
    {
        "type": "object",
        "properties": {"payment_id": {"type": "string", "minLength": 1}, "amount": MONEY},
        "required": ["payment_id"],
        "additionalProperties": False,
    },
)
SUBMIT_LAB_ORDER = CapabilitySpec(
    "SUBMIT_LAB_ORDER",
    "Submit a print order to the lab.",
    {
        "type": "object",
        "properties": {
            "reference": {"type": "string", "minLength": 1, "maxLength": 100},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "product_id": {"type": "string"},
                        "quantity": {"type": "integer", "minimum": 1},
                        "image_url": {"type": "string", "format": "uri"},
                    },
                    "required": ["product_id", "quantity"],
                },
            },
            "ship_to": ADDRESS,
        },
        "required": ["reference", "items"],
        "additionalProperties": False,
    },
)
SYNC_PRODUCTS = CapabilitySpec("SYNC_PRODUCTS", "Fetch the provider's product catalog.")
QUOTE_SHIPPING = CapabilitySpec(
    "QUOTE_SHIPPING",
    "Rates for a parcel.",
    {
        "type": "object",
        "properties": {
            "from": ADDRESS,
            "to": ADDRESS,
            "weight_grams": {"type": "integer", "minimum": 1},
        },
        "required": ["to", "weight_grams"],
        "additionalProperties": False,
    },
)
QUOTE_TAX = CapabilitySpec(
    "QUOTE_TAX",
    "Tax to collect for an order.",
    {
        "type": "object",
        "properties": {
            "amount": MONEY,
            "shipping": {"type": "integer", "minimum": 0},
            "currency": CURRENCY,
            "to": ADDRESS,
        },
        "required": ["amount", "currency", "to"],
        "additionalProperties": False,
    },
)
SEND_EMAIL = CapabilitySpec(
    "SEND_EMAIL",
    "Send one email.",
    {
        "type": "object",
        "properties": {
            "to": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
            "subject": {"type": "string", "minLength": 1, "maxLength": 500},
            "text": {"type": "string"},
        },
        "required": ["to", "subject"],
        "additionalProperties": False,
    },
)

SANDBOX_CONNECTIONS = (
    _sandbox(
        "sandbox_payment",
        "Sandbox payments",
        "payment",
        SandboxPayments,
        (PROCESS_PAYMENT, REFUND_PAYMENT),
    ),
    # sandbox_lab is declared with the lab connections (providers/lab_connections.py)
    _sandbox(
        "sandbox_shipping", "Sandbox shipping", "shipping", SandboxShipping, (QUOTE_SHIPPING,)
    ),
    _sandbox("sandbox_tax", "Sandbox tax", "tax", SandboxTax, (QUOTE_TAX,)),
    _sandbox("sandbox_email", "Sandbox email", "email", SandboxEmail, (SEND_EMAIL,)),
)
