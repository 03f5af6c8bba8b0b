"""alerts: Alertmanager integrations and the alerts they deliver

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 15:30:00

An integration holds the digest of its bearer secret and the routes that say who owns the
cases its alerts open. An alert is kept by fingerprint while its case is open (a partial
unique index), so a repeated delivery or a re-firing adds an occurrence instead of a case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_integrations",
        sa.Column("integration_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column(
            "owner_id",
            sa.String(40),
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("team_id", sa.String(40)),
        sa.Column("org_id", sa.String(40)),
        sa.Column("routes", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("investigate", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        sa.Column(
            "integration_id",
            sa.String(40),
            sa.ForeignKey("alert_integrations.integration_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("cluster", sa.String(200)),
        sa.Column("alertname", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("labels", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("annotations", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS),
        sa.Column("generator_url", sa.Text()),
        sa.Column("case_id", sa.String(40), sa.ForeignKey("cases.case_id", ondelete="CASCADE")),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
    )
    op.create_index(
        "ux_alerts_open_fingerprint",
        "alerts",
        ["integration_id", "fingerprint"],
        unique=True,
        postgresql_where=sa.text("is_open"),
    )
    op.create_index("ix_alerts_case", "alerts", ["case_id"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("alert_integrations")
