"""The sandbox payment provider: in-process, deterministic, and as strict as a real one.

It enforces the money rules itself (captures within the authorization, refunds within the
capture, void only while uncaptured) and honours idempotency keys like Stripe (the same key
returns the first answer), so Interlink's own guarantees are tested against a provider that
would notice a second capture. Magic payment methods:

- ``pm_card_visa`` (or any other ``pm_``/``tok_`` token): approved
- ``pm_card_declined``: declined
- ``pm_card_requires_action``: needs customer authentication (``SANDBOX.authenticate``)
- ``pm_card_delayed``: ``processing`` at first, authorized when next looked at
- ``pm_card_timeout``: the authorization happens but its answer is lost (once)
- ``pm_card_unreachable``: the first authorize request never arrives
- ``pm_card_capture_timeout`` / ``pm_card_refund_timeout``: the first capture / refund happens
  but its answer is lost
- ``pm_provider_down``: every call fails as an outage

Its books live in the process (``SANDBOX``): run API and worker in one process (``make run``)
when the sync job must find sandbox payments.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TypeVar

from interlink.providers.base import GatewayContext
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderDeclined,
    ProviderFailure,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import CallRecord
from interlink.providers.payments import (
    AuthorizeRequest,
    PaymentStatus,
    ProviderPayment,
    ProviderRefund,
    ProviderSetup,
)

_serial = itertools.count(1)
T = TypeVar("T")


@dataclass
class _Payment:
    reference: str
    method: str
    amount: int
    currency: str
    status: PaymentStatus
    captured: int = 0
    refunds: list[ProviderRefund] = field(default_factory=list)
    capture_lost: bool = False
    refund_lost: bool = False

    def view(self) -> ProviderPayment:
        refunded = sum(r.amount for r in self.refunds if r.status == "succeeded")
        next_action = (
            {"type": "redirect_to_url", "url": f"https://sandbox.invalid/3ds/{self.reference}"}
            if self.status == "requires_action"
            else None
        )
        return ProviderPayment(
            reference=self.reference,
            status=self.status,
            amount=self.amount,
            currency=self.currency,
            amount_captured=self.captured,
            amount_refunded=refunded,
            refunds=tuple(self.refunds),
            next_action=next_action,
            raw={
                "id": self.reference,
                "status": self.status,
                "amount": self.amount,
                "captured": self.captured,
                "payment_method": self.method,
            },
        )


@dataclass
class SandboxBook:
    """The sandbox provider's books, shared by every sandbox integration of the process."""

    payments: dict[str, _Payment] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    # every money movement the sandbox performed: (operation, reference, amount)
    performed: list[tuple[str, str, int]] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)

    def movements(self, reference: str, operation: str | None = None) -> list[int]:
        return [
            amount
            for op, ref, amount in self.performed
            if ref == reference and (operation is None or op == operation)
        ]

    def authenticate(self, reference: str, *, success: bool = True) -> None:
        payment = self.payments[reference]
        if payment.status != "requires_action":
            raise ValueError(f"{reference} does not require action")
        payment.status = "authorized" if success else "failed"
        if success:
            self.performed.append(("authorize", reference, payment.amount))

    def get(self, reference: str) -> _Payment:
        payment = self.payments.get(reference)
        if payment is None:
            raise ProviderRejectedRequest(f"The sandbox has no payment {reference!r}.")
        return payment


SANDBOX = SandboxBook()


async def _audited(ctx: GatewayContext, operation: str, path: str, work: Awaitable[T]) -> T:
    """Run one sandbox operation and record it like a provider call (URL ``sandbox://…``)."""
    started = time.perf_counter()
    status, outcome, error = 200, "ok", None
    try:
        return await work
    except ProviderUnavailable as exc:
        status, outcome, error = 503, "http_error", exc.message
        raise
    except ProviderFailure as exc:
        status, outcome, error = (
            402 if isinstance(exc, ProviderDeclined) else 400,
            "http_error",
            exc.message,
        )
        raise
    finally:
        await ctx.client.audit(
            CallRecord(
                operation=operation,
                method="GET" if operation == "retrieve" else "POST",
                url=f"sandbox://{path}",
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


def _check(ctx: GatewayContext, method: str | None = None) -> None:
    if ctx.credentials.get("api_key") == "sbx_invalid":
        raise ProviderAuthFailed("The sandbox refused the API key 'sbx_invalid'.")
    if method == "pm_provider_down":
        raise ProviderUnavailable("The sandbox payment provider is down.", retry_after=30)


class SandboxPaymentProvider:
    authorization_validity = timedelta(days=7)
    multiple_captures = True

    def __init__(self, book: SandboxBook = SANDBOX) -> None:
        self.book = book

    async def authorize(self, ctx: GatewayContext, request: AuthorizeRequest) -> ProviderPayment:
        return await _audited(ctx, "authorize", "payments", self._authorize(ctx, request))

    async def capture(
        self, ctx: GatewayContext, reference: str, amount: int, *, final: bool, idempotency_key: str
    ) -> ProviderPayment:
        work = self._capture(ctx, reference, amount, final=final, idempotency_key=idempotency_key)
        return await _audited(ctx, "capture", f"payments/{reference}/capture", work)

    async def void(
        self, ctx: GatewayContext, reference: str, *, idempotency_key: str
    ) -> ProviderPayment:
        work = self._void(ctx, reference, idempotency_key=idempotency_key)
        return await _audited(ctx, "void", f"payments/{reference}/void", work)

    async def refund(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        reason: str | None,
        idempotency_key: str,
    ) -> ProviderRefund:
        work = self._refund(ctx, reference, amount, reason=reason, idempotency_key=idempotency_key)
        return await _audited(ctx, "refund", f"payments/{reference}/refunds", work)

    async def retrieve(self, ctx: GatewayContext, reference: str) -> ProviderPayment:
        return await _audited(
            ctx, "retrieve", f"payments/{reference}", self._retrieve(ctx, reference)
        )

    async def setup(
        self, ctx: GatewayContext, payment_method: str, customer: str | None, idempotency_key: str
    ) -> ProviderSetup:
        work = self._setup(ctx, payment_method, customer, idempotency_key)
        return await _audited(ctx, "setup", "setup_intents", work)

    def _replay(self, key: str) -> Any:
        return self.book.answers.get(key)

    async def _authorize(self, ctx: GatewayContext, request: AuthorizeRequest) -> ProviderPayment:
        _check(ctx, request.payment_method)
        method = request.payment_method
        stored = self._replay(request.idempotency_key)
        if isinstance(stored, ProviderPayment):
            return self.book.get(stored.reference).view()
        if method == "pm_card_unreachable" and request.idempotency_key not in self.book.lost:
            self.book.lost.add(request.idempotency_key)
            raise ProviderUnavailable("The sandbox did not answer (the request never arrived).")
        if not method.startswith(("pm_", "tok_")):
            raise ProviderRejectedRequest(
                f"The sandbox knows no payment method {method!r}; use a pm_… token.",
                param="payment_method",
            )
        if method == "pm_card_declined":
            raise ProviderDeclined("The card was declined (sandbox card pm_card_declined).")
        status: PaymentStatus = "authorized"
        if method == "pm_card_requires_action":
            status = "requires_action"
        elif method == "pm_card_delayed":
            status = "processing"
        payment = _Payment(
            reference=f"sbx_pi_{next(_serial):06d}",
            method=method,
            amount=request.amount,
            currency=request.currency,
            status=status,
            capture_lost=method == "pm_card_capture_timeout",
            refund_lost=method == "pm_card_refund_timeout",
        )
        self.book.payments[payment.reference] = payment
        if status == "authorized":
            self.book.performed.append(("authorize", payment.reference, payment.amount))
        view = payment.view()
        self.book.answers[request.idempotency_key] = view
        if method == "pm_card_timeout":
            raise ProviderUnavailable("The sandbox timed out (the authorization was made).")
        return view

    async def _capture(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        final: bool,
        idempotency_key: str,
    ) -> ProviderPayment:
        payment = self.book.get(reference)
        _check(ctx, payment.method)
        if isinstance(self._replay(idempotency_key), ProviderPayment):
            return payment.view()
        if payment.status != "authorized":
            raise ProviderConflict(f"The sandbox payment is {payment.status}; it cannot capture.")
        if amount <= 0 or payment.captured + amount > payment.amount:
            raise ProviderConflict("The sandbox refuses to capture more than was authorized.")
        payment.captured += amount
        if final or payment.captured == payment.amount:
            payment.status = "captured"
        self.book.performed.append(("capture", reference, amount))
        view = payment.view()
        self.book.answers[idempotency_key] = view
        if payment.capture_lost:
            payment.capture_lost = False
            raise ProviderUnavailable("The sandbox timed out (the capture was made).")
        return view

    async def _void(
        self, ctx: GatewayContext, reference: str, *, idempotency_key: str
    ) -> ProviderPayment:
        payment = self.book.get(reference)
        _check(ctx, payment.method)
        if isinstance(self._replay(idempotency_key), ProviderPayment):
            return payment.view()
        if payment.status not in ("authorized", "requires_action") or payment.captured:
            raise ProviderConflict(f"The sandbox payment is {payment.status}; it cannot be voided.")
        payment.status = "canceled"
        self.book.performed.append(("void", reference, 0))
        view = payment.view()
        self.book.answers[idempotency_key] = view
        return view

    async def _refund(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        reason: str | None,
        idempotency_key: str,
    ) -> ProviderRefund:
        payment = self.book.get(reference)
        _check(ctx, payment.method)
        stored = self._replay(idempotency_key)
        if isinstance(stored, ProviderRefund):
            return stored
        refunded = sum(r.amount for r in payment.refunds if r.status != "failed")
        if amount <= 0 or refunded + amount > payment.captured:
            raise ProviderConflict("The sandbox refuses to refund more than was captured.")
        refund = ProviderRefund(
            reference=f"sbx_re_{next(_serial):06d}",
            amount=amount,
            status="succeeded",
            operation_id=idempotency_key,
            raw={"reason": reason},
        )
        refund = replace(refund, raw={**refund.raw, "id": refund.reference, "amount": amount})
        payment.refunds.append(refund)
        self.book.performed.append(("refund", reference, amount))
        self.book.answers[idempotency_key] = refund
        if payment.refund_lost:
            payment.refund_lost = False
            raise ProviderUnavailable("The sandbox timed out (the refund was made).")
        return refund

    async def _retrieve(self, ctx: GatewayContext, reference: str) -> ProviderPayment:
        payment = self.book.get(reference)
        _check(ctx)
        if payment.status == "processing":
            payment.status = "authorized"
            self.book.performed.append(("authorize", reference, payment.amount))
        return payment.view()

    async def _setup(
        self, ctx: GatewayContext, payment_method: str, customer: str | None, idempotency_key: str
    ) -> ProviderSetup:
        _check(ctx, payment_method)
        if payment_method == "pm_card_declined":
            raise ProviderDeclined("The card was declined (sandbox card pm_card_declined).")
        stored = self._replay(idempotency_key)
        if isinstance(stored, ProviderSetup):
            return stored
        setup = ProviderSetup(
            reference=f"sbx_seti_{next(_serial):06d}",
            status="succeeded",
            payment_method=payment_method,
            raw={"customer": customer},
        )
        self.book.answers[idempotency_key] = setup
        return setup
