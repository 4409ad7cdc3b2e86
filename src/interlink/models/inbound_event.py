"""Webhooks received from providers: stored before anything else is done with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from interlink.db.base import Base, IdMixin
from interlink.db.types import JSONType, UTCDateTime
from interlink.kit.clock import now

INBOUND_STATUSES = ("received", "retrying", "processed", "ignored", "dead", "rejected")


class InboundEvent(IdMixin, Base):
    __tablename__ = "inbound_events"
    __table_args__ = (
        # a provider's redelivery of one event is stored once; rejected deliveries carry no
        # provider event id (an unverified claim must not block the genuine event)
        UniqueConstraint("integration_id", "provider_event_id"),
        CheckConstraint(
            "status IN ('received', 'retrying', 'processed', 'ignored', 'dead', 'rejected')",
            name="status",
        ),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_inbound_events_tenant_id_id", "tenant_id", "id"),
        Index("ix_inbound_events_status_received", "status", "received_at"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False
    )
    connection_code: Mapped[str] = mapped_column(String(64), nullable=False)
    provider_event_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(200))
    signature_valid: Mapped[bool] = mapped_column(Boolean, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # why the event was rejected, ignored or dead-lettered (never a secret)
    status_reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    replays: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(100))
