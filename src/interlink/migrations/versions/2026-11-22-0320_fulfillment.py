"""fulfillment

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-22 03:04:42.943926
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fulfillment_orders",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("connection_code", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column(
            "items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "ship_to",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "draft",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("lab_order_id", sa.String(length=128), nullable=True),
        sa.Column(
            "totals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tracking",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'submitted', 'accepted', 'in_production', 'shipped', "
            "'cancelling', 'cancelled', 'rejected', 'needs_attention')",
            name=op.f("ck_fulfillment_orders_status"),
        ),
        sa.CheckConstraint(
            "submissions >= 0", name=op.f("ck_fulfillment_orders_submissions_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_fulfillment_orders_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_orders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_orders")),
        sa.UniqueConstraint(
            "tenant_id",
            "order_id",
            "integration_id",
            name=op.f("uq_fulfillment_orders_tenant_id_order_id_integration_id"),
        ),
    )
    with op.batch_alter_table("fulfillment_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_orders_lab_order", ["integration_id", "lab_order_id"], unique=False
        )
        batch_op.create_index(
            "ix_fulfillment_orders_tenant_id_id", ["tenant_id", "id"], unique=False
        )

    op.create_table(
        "lab_integration_states",
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("catalog_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_url", sa.String(length=2000), nullable=True),
        sa.Column("callback_status", sa.String(length=16), nullable=True),
        sa.Column("callback_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_lab_integration_states_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_lab_integration_states")),
    )
    op.create_table(
        "lab_products",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("lab_product_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_lab_products_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_products")),
        sa.UniqueConstraint(
            "integration_id",
            "lab_product_id",
            name=op.f("uq_lab_products_integration_id_lab_product_id"),
        ),
    )
    with op.batch_alter_table("lab_products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lab_products_tenant_integration",
            ["tenant_id", "integration_id", "id"],
            unique=False,
        )

    op.create_table(
        "product_mappings",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=128), nullable=False),
        sa.Column("variant_id", sa.String(length=128), nullable=False),
        sa.Column("lab_product_id", sa.String(length=128), nullable=False),
        sa.Column(
            "lab_attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("lab_node_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_product_mappings_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_product_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "integration_id",
            "product_id",
            "variant_id",
            name=op.f("uq_product_mappings_tenant_id_integration_id_product_id_variant_id"),
        ),
    )
    with op.batch_alter_table("product_mappings", schema=None) as batch_op:
        batch_op.create_index("ix_product_mappings_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "fulfillment_events",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("fulfillment_order_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            ["fulfillment_orders.id"],
            name=op.f("fk_fulfillment_events_fulfillment_order_id_fulfillment_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_events")),
    )
    with op.batch_alter_table("fulfillment_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_events_order", ["fulfillment_order_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fulfillment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_events_order")

    op.drop_table("fulfillment_events")
    with op.batch_alter_table("product_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_product_mappings_tenant_id_id")

    op.drop_table("product_mappings")
    with op.batch_alter_table("lab_products", schema=None) as batch_op:
        batch_op.drop_index("ix_lab_products_tenant_integration")

    op.drop_table("lab_products")
    op.drop_table("lab_integration_states")
    with op.batch_alter_table("fulfillment_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_orders_tenant_id_id")
        batch_op.drop_index("ix_fulfillment_orders_lab_order")

    op.drop_table("fulfillment_orders")
