"""Print-lab fulfillment: orders sent to labs with their status timeline, the labs' cached
catalogs, our products mapped to lab products, and per-lab state (catalog sync, callbacks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interlink.db.base import Base, IdMixin, TimestampMixin
from interlink.db.types import JSONType, UTCDateTime
from interlink.kit.clock import now

FULFILLMENT_STATUSES = (
    "pending",
    "submitted",
    "accepted",
    "in_production",
    "shipped",
    "cancelling",
    "cancelled",
    "rejected",
    "needs_attention",
)
_STATUS_LIST = ", ".join(f"'{s}'" for s in FULFILLMENT_STATUSES)


class FulfillmentOrder(IdMixin, TimestampMixin, Base):
    __tablename__ = "fulfillment_orders"
    __table_args__ = (
        # an order goes to one lab once, however often it is created or its event re-sent
        UniqueConstraint("tenant_id", "order_id", "integration_id"),
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status"),
        CheckConstraint("submissions >= 0", name="submissions_non_negative"),
        Index("ix_fulfillment_orders_tenant_id_id", "tenant_id", "id"),
        Index("ix_fulfillment_orders_lab_order", "integration_id", "lab_order_id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    order_id: Mapped[str] = mapped_column(String(128), nullable=False)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False
    )
    connection_code: Mapped[str] = mapped_column(String(64), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="api")
    event_id: Mapped[str | None] = mapped_column(String(40))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    ship_to: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    attributes: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    # what the lab's adapter prepared (an import, a session, uploads) before placing the order
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    lab_order_id: Mapped[str | None] = mapped_column(String(128))
    totals: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    tracking: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    submissions: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FulfillmentEvent(IdMixin, Base):
    """One entry of an order's status timeline."""

    __tablename__ = "fulfillment_events"
    __table_args__ = (Index("ix_fulfillment_events_order", "fulfillment_order_id", "id"),)

    tenant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    fulfillment_order_id: Mapped[str] = mapped_column(
        ForeignKey("fulfillment_orders.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)


class LabProductRow(IdMixin, Base):
    """A product of a lab's catalog as last synced; removed products keep a removed_at."""

    __tablename__ = "lab_products"
    __table_args__ = (
        UniqueConstraint("integration_id", "lab_product_id"),
        Index("ix_lab_products_tenant_integration", "tenant_id", "integration_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False
    )
    lab_product_id: Mapped[str] = mapped_column(String(128), nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProductMapping(IdMixin, TimestampMixin, Base):
    """Our product (or one variant of it) as a lab product, its attributes and image node."""

    __tablename__ = "product_mappings"
    __table_args__ = (
        # variant_id "" maps every variant of the product without a mapping of its own
        UniqueConstraint("tenant_id", "integration_id", "product_id", "variant_id"),
        Index("ix_product_mappings_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False
    )
    product_id: Mapped[str] = mapped_column(String(128), nullable=False)
    variant_id: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    lab_product_id: Mapped[str] = mapped_column(String(128), nullable=False)
    lab_attributes: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    lab_node_id: Mapped[str | None] = mapped_column(String(64))


class LabIntegrationState(TimestampMixin, Base):
    """What fulfillment remembers about one lab integration: its catalog sync and callback."""

    __tablename__ = "lab_integration_states"

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    catalog_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    callback_status: Mapped[str | None] = mapped_column(String(16))
    callback_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
