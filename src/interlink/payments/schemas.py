from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Amount = Annotated[int, Field(gt=0, le=99_999_999_999, description="Minor units, > 0.")]
NonNegative = Annotated[int, Field(ge=0, le=99_999_999_999, description="Minor units, ≥ 0.")]
Currency = Annotated[str, Field(pattern="^[A-Za-z]{3}$", description="ISO-4217 code, e.g. 'usd'.")]
OrderId = Annotated[str, Field(min_length=1, max_length=128)]
Token = Annotated[
    str,
    Field(
        min_length=3,
        max_length=255,
        description="A provider payment-method token (pm_…, tok_…); never card data.",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineItem(Strict):
    variant_id: str = Field(min_length=1, max_length=128)
    quantity: int = Field(ge=1, le=100_000)
    unit_amount: NonNegative
    name: str | None = Field(default=None, max_length=200)


class Discount(Strict):
    code: str = Field(min_length=1, max_length=100)
    amount: NonNegative


class ShippingInput(Strict):
    amount: NonNegative
    service: str | None = Field(default=None, max_length=100)
    provider: str | None = Field(default=None, max_length=64)


class TaxInput(Strict):
    amount: NonNegative | None = None
    rate_bps: int | None = Field(default=None, ge=0, le=10_000)
    provider: str | None = Field(default=None, max_length=64)


class QuoteRequest(Strict):
    order_id: OrderId | None = None
    currency: Currency
    items: list[LineItem] = Field(min_length=1, max_length=500)
    discounts: list[Discount] = Field(default_factory=list, max_length=50)
    shipping: ShippingInput | None = None
    tax: TaxInput | None = None
    payment_integration_id: str | None = Field(default=None, max_length=40)
    expires_in_seconds: int | None = Field(default=None, ge=60, le=86_400)

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Totals(BaseModel):
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int


class SnapshotRead(BaseModel):
    object: Literal["checkout_snapshot"] = "checkout_snapshot"
    snapshot_id: str
    order_id: str | None
    currency: str
    items: list[dict[str, Any]]
    discounts: list[dict[str, Any]]
    totals: Totals
    providers: dict[str, Any]
    expires_at: datetime
    created: datetime


class AuthorizeRequest(Strict):
    order_id: OrderId
    snapshot_id: str = Field(min_length=1, max_length=40)
    payment_method: Token
    amount: Amount = Field(description="The total the caller expects; must equal the snapshot's.")
    currency: Currency
    integration_id: str | None = Field(default=None, max_length=40)
    entity_type: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=128)
    customer: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=20)

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class CaptureRequest(Strict):
    amount: Amount | None = Field(default=None, description="Defaults to all that is left.")
    final: bool = Field(default=True, description="Release what is not captured.")


class RefundRequest(Strict):
    amount: Amount | None = Field(default=None, description="Defaults to all that is left.")
    reason: str | None = Field(default=None, max_length=500)


class VoidRequest(Strict):
    reason: str | None = Field(default=None, max_length=500)


class SubmitPaymentRequest(Strict):
    snapshot_id: str = Field(min_length=1, max_length=40)
    payment_method: Token
    amount: Amount
    currency: Currency
    integration_id: str | None = Field(default=None, max_length=40)

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SetupIntentRequest(Strict):
    payment_method: Token
    customer: str | None = Field(default=None, max_length=255)
    integration_id: str | None = Field(default=None, max_length=40)


class SetupIntentRead(BaseModel):
    object: Literal["setup_intent"] = "setup_intent"
    integration_id: str
    provider_reference: str
    status: str
    payment_method: str | None
    client_secret: str | None
    next_action: dict[str, Any] | None


class TransactionRead(BaseModel):
    id: str
    operation: str
    status: str
    amount: int
    currency: str
    final: bool
    reason: str | None
    provider_reference: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    raw_response: dict[str, Any] | None
    created: datetime
    settled_at: datetime | None


class PaymentRead(BaseModel):
    object: Literal["payment_intent"] = "payment_intent"
    id: str
    order_id: str
    snapshot_id: str
    integration_id: str
    connection_code: str
    provider_reference: str | None
    status: str
    amount: int
    currency: str
    amount_authorized: int
    amount_captured: int
    amount_refunded: int
    amount_refund_pending: int
    amount_capturable: int
    amount_refundable: int
    payment_method: str
    next_action: dict[str, Any] | None
    failure_code: str | None
    failure_message: str | None
    authorization_expires_at: datetime | None
    pending_operations: list[TransactionRead]
    metadata: dict[str, Any]
    created: datetime
    updated: datetime


class OrderPaymentRead(PaymentRead):
    transactions: list[TransactionRead]


class OrderPayments(BaseModel):
    object: Literal["list"] = "list"
    order_id: str
    data: list[OrderPaymentRead]


class HistoryRead(BaseModel):
    id: str
    order_id: str
    intent_id: str | None
    from_status: str | None
    to_status: str
    reason: str
    source: str
    actor: str | None
    correlation_id: str | None
    created: datetime


class OrderHistory(BaseModel):
    object: Literal["list"] = "list"
    order_id: str
    data: list[HistoryRead]


class ReconciliationCreate(Strict):
    window_start: datetime | None = None
    window_end: datetime | None = None


class FindingRead(BaseModel):
    id: str
    intent_id: str
    kind: str
    message: str
    local: dict[str, Any]
    provider: dict[str, Any]


class ReconciliationRead(BaseModel):
    object: Literal["reconciliation_run"] = "reconciliation_run"
    id: str
    status: str
    window_start: datetime
    window_end: datetime
    checked: int
    drift_count: int
    expired_count: int
    error: str | None
    findings: list[FindingRead]
    created: datetime
    finished_at: datetime | None
