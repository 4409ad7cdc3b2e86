"""Stripe PaymentIntents through the official SDK (``stripe`` ≥ 16, async methods).

Authorize = ``capture_method=manual, confirm=true``; capture with ``amount_to_capture`` (one
capture per authorization); void = cancel; refunds carry our operation id in metadata (the
free-text reason travels in metadata too: Stripe's ``reason`` is an enum). Every POST carries the
operation id as ``Idempotency-Key``. The SDK does its own HTTP, so each call is recorded in the
integration's audit log here.

The ``api_base`` setting is honoured for sandbox integrations only (a fake such as localstripe);
production always talks to api.stripe.com. localstripe differences handled here: a partial
capture is reported as a refund of the remainder and charges have no ``amount_captured``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import stripe

from interlink.providers.base import GatewayContext
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderDeclined,
    ProviderFailure,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import CallRecord, redact_value
from interlink.providers.payments import (
    AuthorizeRequest,
    PaymentStatus,
    ProviderPayment,
    ProviderRefund,
    ProviderSetup,
)

OPERATION_KEY = "interlink_operation"
STATUS: Mapping[str, PaymentStatus] = {
    "requires_capture": "authorized",
    "succeeded": "captured",
    "canceled": "canceled",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_confirmation": "processing",
    "requires_payment_method": "failed",
}
T = TypeVar("T")


def plain(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict()
    return result


def translate(exc: stripe.StripeError) -> ProviderFailure:
    message = exc.user_message or str(exc) or type(exc).__name__
    text = f"Stripe: {message}"
    if isinstance(exc, stripe.CardError):
        return ProviderDeclined(text, param="payment_method")
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderAuthFailed(text)
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        return ProviderUnavailable(text, retry_after=5.0)
    if isinstance(exc, stripe.IdempotencyError):
        if exc.http_status == 409:  # the same key is still being processed: outcome unknown
            return ProviderUnavailable(text, retry_after=2.0)
        return ProviderRejectedRequest(text)
    if exc.http_status is None or exc.http_status >= 500:
        return ProviderUnavailable(text, retry_after=5.0)
    code = getattr(exc, "code", None)
    if code in ("payment_intent_unexpected_state", "charge_already_refunded", "charge_disputed"):
        return ProviderConflict(text)
    return ProviderRejectedRequest(text)


class StripePaymentProvider:
    authorization_validity = timedelta(days=7)
    multiple_captures = False

    def _client(self, ctx: GatewayContext) -> tuple[stripe.StripeClient, stripe.AIOHTTPClient]:
        http = stripe.AIOHTTPClient(timeout=ctx.client.timeout)
        options: dict[str, Any] = {"max_network_retries": 0, "http_client": http}
        base = ctx.settings.get("api_base")
        if base and ctx.environment == "sandbox":
            options["base_addresses"] = {"api": str(base).rstrip("/")}
        return stripe.StripeClient(str(ctx.credentials["secret_key"]), **options), http

    async def _call(
        self,
        ctx: GatewayContext,
        operation: str,
        method: str,
        path: str,
        fn: Callable[[stripe.StripeClient], Awaitable[T]],
    ) -> T:
        client, http = self._client(ctx)
        started = time.perf_counter()
        status: int | None = None
        outcome, error = "ok", None
        try:
            result = await fn(client)
            status = 200
            return result
        except stripe.StripeError as exc:
            status = exc.http_status
            outcome = "http_error" if status else "network_error"
            error = type(exc).__name__
            raise translate(exc) from None
        finally:
            await http.close_async()  # type: ignore[no-untyped-call]  # unannotated in the SDK
            await ctx.client.audit(
                CallRecord(
                    operation=operation,
                    method=method,
                    url=f"stripe:{path}",
                    status_code=status,
                    outcome=outcome,
                    error=error,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                    attempt=1,
                    correlation_id=ctx.client.correlation_id,
                    request_excerpt=None,
                    response_excerpt=None,
                )
            )

    def _options(self, ctx: GatewayContext, idempotency_key: str | None = None) -> Any:
        options: dict[str, Any] = {}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        if ctx.client.correlation_id:
            options["headers"] = {"X-Request-Id": ctx.client.correlation_id}
        return options

    async def authorize(self, ctx: GatewayContext, request: AuthorizeRequest) -> ProviderPayment:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method": request.payment_method,
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
            "metadata": {"interlink_intent": request.intent_id, "order_id": request.order_id},
        }
        if request.customer:
            params["customer"] = request.customer
        intent = await self._call(
            ctx,
            "authorize",
            "POST",
            "/v1/payment_intents",
            lambda c: c.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                self._options(ctx, request.idempotency_key),
            ),
        )
        return await self._normalize(ctx, plain(intent))

    async def capture(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        final: bool,
        idempotency_key: str,
    ) -> ProviderPayment:
        intent = await self._call(
            ctx,
            "capture",
            "POST",
            f"/v1/payment_intents/{reference}/capture",
            lambda c: c.v1.payment_intents.capture_async(
                reference,
                {"amount_to_capture": amount},
                self._options(ctx, idempotency_key),
            ),
        )
        return await self._normalize(ctx, plain(intent))

    async def void(
        self, ctx: GatewayContext, reference: str, *, idempotency_key: str
    ) -> ProviderPayment:
        intent = await self._call(
            ctx,
            "void",
            "POST",
            f"/v1/payment_intents/{reference}/cancel",
            lambda c: c.v1.payment_intents.cancel_async(
                reference, None, self._options(ctx, idempotency_key)
            ),
        )
        return await self._normalize(ctx, plain(intent))

    async def refund(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        reason: str | None,
        idempotency_key: str,
    ) -> ProviderRefund:
        metadata = {OPERATION_KEY: idempotency_key}
        if reason:
            metadata["reason"] = reason[:500]
        refund = await self._call(
            ctx,
            "refund",
            "POST",
            "/v1/refunds",
            lambda c: c.v1.refunds.create_async(
                {"payment_intent": reference, "amount": amount, "metadata": metadata},
                self._options(ctx, idempotency_key),
            ),
        )
        return _refund(plain(refund))

    async def retrieve(self, ctx: GatewayContext, reference: str) -> ProviderPayment:
        intent = await self._call(
            ctx,
            "retrieve",
            "GET",
            f"/v1/payment_intents/{reference}",
            lambda c: c.v1.payment_intents.retrieve_async(
                reference, {"expand": ["latest_charge"]}, self._options(ctx)
            ),
        )
        return await self._normalize(ctx, plain(intent))

    async def setup(
        self, ctx: GatewayContext, payment_method: str, customer: str | None, idempotency_key: str
    ) -> ProviderSetup:
        params: dict[str, Any] = {"payment_method_types": ["card"]}
        if customer:
            params["customer"] = customer
        created = plain(
            await self._call(
                ctx,
                "setup",
                "POST",
                "/v1/setup_intents",
                lambda c: c.v1.setup_intents.create_async(
                    params,  # type: ignore[arg-type]
                    self._options(ctx, idempotency_key + ":create"),
                ),
            )
        )
        confirmed = plain(
            await self._call(
                ctx,
                "setup",
                "POST",
                f"/v1/setup_intents/{created['id']}/confirm",
                lambda c: c.v1.setup_intents.confirm_async(
                    created["id"],
                    {"payment_method": payment_method},
                    self._options(ctx, idempotency_key + ":confirm"),
                ),
            )
        )
        method = confirmed.get("payment_method")
        if isinstance(method, dict):
            method = method.get("id")
        return ProviderSetup(
            reference=confirmed["id"],
            status=str(confirmed.get("status")),
            payment_method=method,
            client_secret=confirmed.get("client_secret"),
            next_action=confirmed.get("next_action"),
            raw=redact_value({k: confirmed.get(k) for k in ("id", "status", "usage")}),
        )

    async def _normalize(self, ctx: GatewayContext, intent: dict[str, Any]) -> ProviderPayment:
        charge = intent.get("latest_charge")
        if isinstance(charge, str):
            charge = plain(
                await self._call(
                    ctx,
                    "retrieve",
                    "GET",
                    f"/v1/charges/{charge}",
                    lambda c: c.v1.charges.retrieve_async(charge, None, self._options(ctx)),
                )
            )
        refunds: list[ProviderRefund] = []
        if charge:
            listed = plain(
                await self._call(
                    ctx,
                    "retrieve",
                    "GET",
                    "/v1/refunds",
                    lambda c: c.v1.refunds.list_async(
                        {"payment_intent": intent["id"], "limit": 100}, self._options(ctx)
                    ),
                )
            )
            refunds = [_refund(plain(r)) for r in listed.get("data", [])]
        captured, ours = _captured(charge or {}, refunds)
        error = intent.get("last_payment_error") or {}
        return ProviderPayment(
            reference=intent["id"],
            status=STATUS.get(str(intent.get("status")), "processing"),
            amount=int(intent["amount"]),
            currency=str(intent["currency"]),
            amount_captured=captured,
            amount_refunded=sum(r.amount for r in ours if r.status == "succeeded"),
            refunds=tuple(ours),
            next_action=intent.get("next_action"),
            failure_code=error.get("code"),
            failure_message=error.get("message"),
            raw={
                k: intent.get(k)
                for k in ("id", "object", "status", "amount", "currency", "capture_method")
            },
        )


def _refund(refund: dict[str, Any]) -> ProviderRefund:
    status = str(refund.get("status"))
    metadata = refund.get("metadata") or {}
    return ProviderRefund(
        reference=refund["id"],
        amount=int(refund["amount"]),
        status="succeeded"
        if status == "succeeded"
        else "failed"
        if status
        in (
            "failed",
            "canceled",
        )
        else "pending",
        operation_id=metadata.get(OPERATION_KEY),
        raw={k: refund.get(k) for k in ("id", "object", "status", "amount", "currency")},
    )


def _captured(
    charge: dict[str, Any], refunds: list[ProviderRefund]
) -> tuple[int, list[ProviderRefund]]:
    """What was captured, and the refunds that are refunds (not a released remainder)."""
    if not charge or not charge.get("captured"):
        return 0, [r for r in refunds if r.operation_id is not None]
    if "amount_captured" in charge:
        return int(charge["amount_captured"]), refunds
    # localstripe: a partial capture appears as a refund of the rest, without our metadata
    released = sum(r.amount for r in refunds if r.operation_id is None)
    return int(charge["amount"]) - released, [r for r in refunds if r.operation_id is not None]
