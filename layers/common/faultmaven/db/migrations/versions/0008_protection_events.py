"""protection events: what rate limits and reputation refused or changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:00:00

Throttled requests, refusals of blocked clients and reputation level changes, one row per
subject and kind per flush (with a count), kept 30 days by retention.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protection_events",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("route_class", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("previous_level", sa.String(length=16), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_protection_events")),
    )
    op.create_index(
        "ix_protection_events_subject",
        "protection_events",
        ["scope", "subject", "occurred_at"],
    )
    op.create_index("ix_protection_events_last_at", "protection_events", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_protection_events_last_at", table_name="protection_events")
    op.drop_index("ix_protection_events_subject", table_name="protection_events")
    op.drop_table("protection_events")
