"""Checkout snapshots, payment intents, their operations (the ledger), the order status history
and reconciliation runs. The money rules live here as CHECK constraints and partial unique
indexes, so no code path (nor a concurrent one) can break them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from interlink.db.base import Base, IdMixin, TimestampMixin
from interlink.db.types import JSONType, UTCDateTime
from interlink.kit.clock import now

INTENT_STATUSES = (
    "processing",
    "requires_action",
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
    "refunded",
    "voided",
    "failed",
    "expired",
)
# an intent in one of these may still move money for its order: at most one per order
ACTIVE_STATUSES = (
    "processing",
    "requires_action",
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
)
OPERATIONS = ("authorize", "capture", "void", "refund")
OPERATION_STATUSES = ("pending", "succeeded", "failed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


ACTIVE_WHERE = text(f"status IN ({_in(ACTIVE_STATUSES)})")


class CheckoutSnapshot(IdMixin, Base):
    """The priced checkout a payment is bound to; never changed once written."""

    __tablename__ = "checkout_snapshots"
    __table_args__ = (
        CheckConstraint("subtotal >= 0", name="subtotal"),
        CheckConstraint("discount_total >= 0", name="discount_total"),
        CheckConstraint("shipping_total >= 0", name="shipping_total"),
        CheckConstraint("tax_total >= 0", name="tax_total"),
        CheckConstraint("total > 0", name="total"),
        CheckConstraint(
            "total = subtotal - discount_total + shipping_total + tax_total", name="total_sum"
        ),
        Index("ix_checkout_snapshots_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    order_id: Mapped[str | None] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    discounts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    shipping: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    tax: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shipping_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tax_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    providers: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)


class PaymentIntent(IdMixin, TimestampMixin, Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(INTENT_STATUSES)})", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "authorized_amount >= 0 AND authorized_amount <= amount", name="authorized_range"
        ),
        CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= authorized_amount",
            name="captured_le_authorized",
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refund_pending_amount >= 0 "
            "AND refunded_amount + refund_pending_amount <= captured_amount",
            name="refunds_le_captured",
        ),
        CheckConstraint("status <> 'voided' OR captured_amount = 0", name="void_only_uncaptured"),
        # at most one active intent per order, and a snapshot pays for one active intent
        Index(
            "uq_payment_intents_active_order",
            "tenant_id",
            "order_id",
            unique=True,
            sqlite_where=ACTIVE_WHERE,
            postgresql_where=ACTIVE_WHERE,
        ),
        Index(
            "uq_payment_intents_active_snapshot",
            "snapshot_id",
            unique=True,
            sqlite_where=ACTIVE_WHERE,
            postgresql_where=ACTIVE_WHERE,
        ),
        Index("ix_payment_intents_tenant_id_id", "tenant_id", "id"),
        Index("ix_payment_intents_tenant_order", "tenant_id", "order_id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    order_id: Mapped[str] = mapped_column(String(128), nullable=False)
    snapshot_id: Mapped[str] = mapped_column(
        ForeignKey("checkout_snapshots.id", ondelete="RESTRICT"), nullable=False
    )
    # the intent remembers its integration: switching the tenant's default never moves it
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    connection_code: Mapped[str] = mapped_column(String(64), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    authorized_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    captured_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    refund_pending_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    payment_method: Mapped[str] = mapped_column(String(255), nullable=False)
    customer: Mapped[str | None] = mapped_column(String(255))
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    authorization_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class PaymentOperation(IdMixin, Base):
    """One money movement asked of the provider. Written (pending) and committed before the call;
    its id is the provider's idempotency key, so a retry can never move money twice."""

    __tablename__ = "payment_operations"
    __table_args__ = (
        CheckConstraint(f"operation IN ({_in(OPERATIONS)})", name="operation"),
        CheckConstraint(f"status IN ({_in(OPERATION_STATUSES)})", name="status"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("operation NOT IN ('capture', 'refund') OR amount > 0", name="moves_money"),
        UniqueConstraint("intent_id", "operation", "idempotency_key"),
        # one authorize / capture / void in flight per intent; refunds reserve amounts instead
        Index(
            "uq_payment_operations_pending_transition",
            "intent_id",
            unique=True,
            sqlite_where=text("status = 'pending' AND operation <> 'refund'"),
            postgresql_where=text("status = 'pending' AND operation <> 'refund'"),
        ),
        Index("ix_payment_operations_pending", "status", "next_check_at"),
        Index("ix_payment_operations_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    intent_id: Mapped[str] = mapped_column(
        ForeignKey("payment_intents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    operation: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    final: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    raw_response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrderStatusHistory(IdMixin, Base):
    __tablename__ = "order_status_history"
    __table_args__ = (Index("ix_order_status_history_order", "tenant_id", "order_id", "id"),)

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    order_id: Mapped[str] = mapped_column(String(128), nullable=False)
    intent_id: Mapped[str | None] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    source: Mapped[str] = mapped_column(String(24), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)


class ReconciliationRun(IdMixin, Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),
        Index("ix_reconciliation_runs_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    checked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    drift_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expired_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReconciliationFinding(IdMixin, Base):
    __tablename__ = "reconciliation_findings"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("reconciliation_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    tenant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    intent_id: Mapped[str] = mapped_column(String(40), nullable=False)
    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    local: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    provider: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
