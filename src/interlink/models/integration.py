"""The catalog's custom entries, tenants' integration instances, their entity links and the audit
log of every outbound provider call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
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

INTEGRATION_STATUSES = ("pending_configuration", "active", "inactive", "error", "needs_reauth")


class CustomConnection(TimestampMixin, Base):
    """A connection type added by a platform admin (built-ins are declared in code)."""

    __tablename__ = "connections"
    __table_args__ = (CheckConstraint("status IN ('active', 'beta', 'deprecated')", name="status"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    auth_type: Mapped[str] = mapped_column(String(16), nullable=False)
    credentials_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    settings_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomCapability(TimestampMixin, Base):
    __tablename__ = "connection_capabilities"

    connection_code: Mapped[str] = mapped_column(
        ForeignKey("connections.code", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parameters_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)


class Integration(IdMixin, TimestampMixin, Base):
    __tablename__ = "integrations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_configuration', 'active', 'inactive', 'error', 'needs_reauth')",
            name="status",
        ),
        CheckConstraint("environment IN ('sandbox', 'production')", name="environment"),
        Index("ix_integrations_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    connection_code: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    # AES-GCM envelope ("v1.<kid>.<payload>") of the credentials JSON; aad = "tenant|integration"
    credentials_sealed: Mapped[str | None] = mapped_column(Text)
    credential_hints: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, nullable=False)
    credentials_expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EntityIntegrationLink(IdMixin, Base):
    __tablename__ = "entity_integrations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity_type", "entity_id", "integration_id", "purpose"),
        CheckConstraint("environment IN ('sandbox', 'production')", name="environment"),
        # at most one default per entity, purpose and environment: the database says so
        Index(
            "uq_entity_integrations_default",
            "tenant_id",
            "entity_type",
            "entity_id",
            "purpose",
            "environment",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    entity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(128), nullable=False)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    # the linked integration's environment, so sandbox and production each have a default
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)


class IntegrationLog(IdMixin, Base):
    """One outbound provider call attempt, with secrets redacted."""

    __tablename__ = "integration_logs"
    __table_args__ = (
        Index("ix_integration_logs_tenant_id_id", "tenant_id", "id"),
        Index("ix_integration_logs_integration", "integration_id", "created_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    integration_id: Mapped[str | None] = mapped_column(String(40))
    connection_code: Mapped[str] = mapped_column(String(64), nullable=False)
    operation: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    correlation_id: Mapped[str | None] = mapped_column(String(128), index=True)
    request_excerpt: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=now, nullable=False, index=True
    )
