from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interlink.db.base import Base, IdMixin
from interlink.db.types import JSONType, UTCDateTime
from interlink.kit.clock import now


class Event(IdMixin, Base):
    """Something that happened in a tenant: published by the platform or by Interlink itself."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_events_tenant_type", "tenant_id", "type", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # the publisher's own id for the event, which de-duplicates a re-sent publish
    external_id: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="interlink")
    request_id: Mapped[str | None] = mapped_column(String(100))
    # endpoints that name channels receive only events published to one of them
    channels: Mapped[list[str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
