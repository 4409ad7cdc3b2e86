"""Integrations: custom connections and capabilities, integration instances with sealed
credentials, entity links (one default per entity, purpose and environment), integration logs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:42:53.674098
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_type", sa.String(length=16), nullable=False),
        sa.Column(
            "credentials_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'beta', 'deprecated')", name=op.f("ck_connections_status")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_connections")),
    )
    op.create_table(
        "integration_logs",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=True),
        sa.Column("connection_code", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column("request_excerpt", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_logs")),
    )
    with op.batch_alter_table("integration_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_logs_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_integration_logs_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_integration_logs_integration", ["integration_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_integration_logs_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "connection_capabilities",
        sa.Column("connection_code", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "parameters_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_code"],
            ["connections.code"],
            name=op.f("fk_connection_capabilities_connection_code_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_code", "code", name=op.f("pk_connection_capabilities")),
    )
    op.create_table(
        "integrations",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("connection_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("credentials_sealed", sa.Text(), nullable=True),
        sa.Column(
            "credential_hints",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("credentials_expire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "environment IN ('sandbox', 'production')", name=op.f("ck_integrations_environment")
        ),
        sa.CheckConstraint(
            "status IN ('pending_configuration', 'active', 'inactive', 'error', 'needs_reauth')",
            name=op.f("ck_integrations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_integrations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
    )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.create_index("ix_integrations_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "entity_integrations",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "environment IN ('sandbox', 'production')",
            name=op.f("ck_entity_integrations_environment"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_entity_integrations_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_entity_integrations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_integrations")),
        sa.UniqueConstraint(
            "tenant_id",
            "entity_type",
            "entity_id",
            "integration_id",
            "purpose",
            name=op.f(
                "uq_entity_integrations_tenant_id_entity_type_entity_id_integration_id_purpose"
            ),
        ),
    )
    with op.batch_alter_table("entity_integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entity_integrations_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            "uq_entity_integrations_default",
            ["tenant_id", "entity_type", "entity_id", "purpose", "environment"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )


def downgrade() -> None:
    with op.batch_alter_table("entity_integrations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_entity_integrations_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_entity_integrations_integration_id"))

    op.drop_table("entity_integrations")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index("ix_integrations_tenant_id_id")

    op.drop_table("integrations")
    op.drop_table("connection_capabilities")
    with op.batch_alter_table("integration_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_integration_logs_tenant_id_id")
        batch_op.drop_index("ix_integration_logs_integration")
        batch_op.drop_index(batch_op.f("ix_integration_logs_created_at"))
        batch_op.drop_index(batch_op.f("ix_integration_logs_correlation_id"))

    op.drop_table("integration_logs")
    op.drop_table("connections")
