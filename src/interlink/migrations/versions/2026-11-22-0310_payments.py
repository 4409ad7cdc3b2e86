"""payments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:08:17.492320
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_snapshots",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "discounts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "shipping",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tax",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount_total", sa.BigInteger(), nullable=False),
        sa.Column("shipping_total", sa.BigInteger(), nullable=False),
        sa.Column("tax_total", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column(
            "providers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "discount_total >= 0", name=op.f("ck_checkout_snapshots_discount_total")
        ),
        sa.CheckConstraint(
            "shipping_total >= 0", name=op.f("ck_checkout_snapshots_shipping_total")
        ),
        sa.CheckConstraint("subtotal >= 0", name=op.f("ck_checkout_snapshots_subtotal")),
        sa.CheckConstraint("tax_total >= 0", name=op.f("ck_checkout_snapshots_tax_total")),
        sa.CheckConstraint(
            "total = subtotal - discount_total + shipping_total + tax_total",
            name=op.f("ck_checkout_snapshots_total_sum"),
        ),
        sa.CheckConstraint("total > 0", name=op.f("ck_checkout_snapshots_total")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_checkout_snapshots_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_snapshots")),
    )
    with op.batch_alter_table("checkout_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkout_snapshots_tenant_id_id", ["tenant_id", "id"], unique=False
        )

    op.create_table(
        "order_status_history",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=True),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_status_history_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_history")),
    )
    with op.batch_alter_table("order_status_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_status_history_order", ["tenant_id", "order_id", "id"], unique=False
        )

    op.create_table(
        "reconciliation_runs",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("drift_count", sa.Integer(), nullable=False),
        sa.Column("expired_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')",
            name=op.f("ck_reconciliation_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconciliation_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_runs_tenant_id_id", ["tenant_id", "id"], unique=False
        )

    op.create_table(
        "payment_intents",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("snapshot_id", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("connection_code", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("authorized_amount", sa.BigInteger(), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("refund_pending_amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_method", sa.String(length=255), nullable=False),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column(
            "next_action",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("authorization_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'voided' OR captured_amount = 0",
            name=op.f("ck_payment_intents_void_only_uncaptured"),
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded', 'refunded', 'voided', 'failed', 'expired')",
            name=op.f("ck_payment_intents_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_intents_amount_positive")),
        sa.CheckConstraint(
            "authorized_amount >= 0 AND authorized_amount <= amount",
            name=op.f("ck_payment_intents_authorized_range"),
        ),
        sa.CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= authorized_amount",
            name=op.f("ck_payment_intents_captured_le_authorized"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refund_pending_amount >= 0 AND refunded_amount + refund_pending_amount <= captured_amount",
            name=op.f("ck_payment_intents_refunds_le_captured"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_payment_intents_integration_id_integrations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["checkout_snapshots.id"],
            name=op.f("fk_payment_intents_snapshot_id_checkout_snapshots"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_intents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_intents")),
    )
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_intents_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index("ix_payment_intents_tenant_id_id", ["tenant_id", "id"], unique=False)
        batch_op.create_index(
            "ix_payment_intents_tenant_order", ["tenant_id", "order_id"], unique=False
        )
        batch_op.create_index(
            "uq_payment_intents_active_order",
            ["tenant_id", "order_id"],
            unique=True,
            sqlite_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
            postgresql_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
        )
        batch_op.create_index(
            "uq_payment_intents_active_snapshot",
            ["snapshot_id"],
            unique=True,
            sqlite_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
            postgresql_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
        )

    op.create_table(
        "reconciliation_findings",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "local",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "provider",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_findings_run_id_reconciliation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_findings")),
    )
    with op.batch_alter_table("reconciliation_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_findings_run_id"), ["run_id"], unique=False
        )

    op.create_table(
        "payment_operations",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column(
            "raw_response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')",
            name=op.f("ck_payment_operations_operation"),
        ),
        sa.CheckConstraint(
            "operation NOT IN ('capture', 'refund') OR amount > 0",
            name=op.f("ck_payment_operations_moves_money"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_payment_operations_status"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payment_operations_amount_non_negative")),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_payment_operations_intent_id_payment_intents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_operations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_operations")),
        sa.UniqueConstraint(
            "intent_id",
            "operation",
            "idempotency_key",
            name=op.f("uq_payment_operations_intent_id_operation_idempotency_key"),
        ),
    )
    with op.batch_alter_table("payment_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_operations_intent_id"), ["intent_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_operations_pending", ["status", "next_check_at"], unique=False
        )
        batch_op.create_index(
            "ix_payment_operations_tenant_id_id", ["tenant_id", "id"], unique=False
        )
        batch_op.create_index(
            "uq_payment_operations_pending_transition",
            ["intent_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending' AND operation <> 'refund'"),
            postgresql_where=sa.text("status = 'pending' AND operation <> 'refund'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_operations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_operations_pending_transition",
            sqlite_where=sa.text("status = 'pending' AND operation <> 'refund'"),
            postgresql_where=sa.text("status = 'pending' AND operation <> 'refund'"),
        )
        batch_op.drop_index("ix_payment_operations_tenant_id_id")
        batch_op.drop_index("ix_payment_operations_pending")
        batch_op.drop_index(batch_op.f("ix_payment_operations_intent_id"))

    op.drop_table("payment_operations")
    with op.batch_alter_table("reconciliation_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_findings_run_id"))

    op.drop_table("reconciliation_findings")
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_intents_active_snapshot",
            sqlite_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
            postgresql_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
        )
        batch_op.drop_index(
            "uq_payment_intents_active_order",
            sqlite_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
            postgresql_where=sa.text(
                "status IN ('processing', 'requires_action', 'authorized', 'partially_captured', 'captured', 'partially_refunded')"
            ),
        )
        batch_op.drop_index("ix_payment_intents_tenant_order")
        batch_op.drop_index("ix_payment_intents_tenant_id_id")
        batch_op.drop_index(batch_op.f("ix_payment_intents_integration_id"))

    op.drop_table("payment_intents")
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_reconciliation_runs_tenant_id_id")

    op.drop_table("reconciliation_runs")
    with op.batch_alter_table("order_status_history", schema=None) as batch_op:
        batch_op.drop_index("ix_order_status_history_order")

    op.drop_table("order_status_history")
    with op.batch_alter_table("checkout_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_checkout_snapshots_tenant_id_id")

    op.drop_table("checkout_snapshots")
