"""The payment lifecycle every payment adapter speaks, in normalized dataclasses.

An adapter raises the errors of ``providers.errors``: ``ProviderDeclined``,
``ProviderRejectedRequest``, ``ProviderConflict`` and ``ProviderAuthFailed`` mean the provider
answered and moved no money; ``ProviderUnavailable`` (timeout, connection error, 5xx) means the
outcome is unknown. Every call that moves money carries ``idempotency_key`` (the id of the
operation row Interlink committed before the call) so that repeating it is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

from interlink.providers.base import GatewayContext

PaymentStatus = Literal[
    "requires_action", "processing", "authorized", "captured", "canceled", "failed"
]
RefundStatus = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class AuthorizeRequest:
    amount: int
    currency: str
    payment_method: str
    idempotency_key: str
    order_id: str
    intent_id: str
    customer: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    reference: str
    amount: int
    status: RefundStatus
    # the Interlink operation that asked for it (sent as metadata), to find a refund whose
    # answer was lost
    operation_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderPayment:
    """The provider's view of one payment: what is authorized, captured and refunded."""

    reference: str
    status: PaymentStatus
    amount: int
    currency: str
    amount_captured: int = 0
    amount_refunded: int = 0
    refunds: tuple[ProviderRefund, ...] = ()
    next_action: Mapping[str, Any] | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderSetup:
    reference: str
    status: str
    payment_method: str | None
    client_secret: str | None = None
    next_action: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    # how long an uncaptured authorization holds at this provider
    authorization_validity: timedelta
    # whether an authorization may be captured in several parts
    multiple_captures: bool

    async def authorize(self, ctx: GatewayContext, request: AuthorizeRequest) -> ProviderPayment:
        """Authorize without capturing. A decline raises ``ProviderDeclined``."""
        ...

    async def capture(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        final: bool,
        idempotency_key: str,
    ) -> ProviderPayment: ...

    async def void(
        self, ctx: GatewayContext, reference: str, *, idempotency_key: str
    ) -> ProviderPayment: ...

    async def refund(
        self,
        ctx: GatewayContext,
        reference: str,
        amount: int,
        *,
        reason: str | None,
        idempotency_key: str,
    ) -> ProviderRefund: ...

    async def retrieve(self, ctx: GatewayContext, reference: str) -> ProviderPayment:
        """The provider's truth about a payment (used by sync and reconciliation)."""
        ...

    async def setup(
        self, ctx: GatewayContext, payment_method: str, customer: str | None, idempotency_key: str
    ) -> ProviderSetup:
        """Save a payment method for later use; card data never passes through Interlink."""
        ...
