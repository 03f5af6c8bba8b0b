"""clusters, and alert integrations that sign their deliveries

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 20:15:00

The telemetry cluster registry: endpoints, sealed credentials and the last health check.
Alert integrations gain an authentication kind: a bearer secret (as before) or an HMAC
signature whose key lives in Secrets Manager.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "alert_integrations",
        sa.Column("auth_kind", sa.String(10), server_default="bearer", nullable=False),
    )
    op.add_column("alert_integrations", sa.Column("signing_secret_arn", sa.Text(), nullable=True))
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("environment", sa.String(40), nullable=True),
        sa.Column("endpoints", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("auth_kind", sa.String(10), server_default="none", nullable=False),
        sa.Column("credentials_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("verify_tls", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("status", sa.String(16), server_default="unknown", nullable=False),
        sa.Column("status_components", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("checked_at", TS, nullable=True),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clusters")
    op.drop_column("alert_integrations", "signing_secret_arn")
    op.drop_column("alert_integrations", "auth_kind")
