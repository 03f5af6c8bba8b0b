"""agent: the hierarchical memory of each case

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:10:00

One row per case the agent has answered in: the memory tiers as JSON and the number of
turns, kept beside the case (and deleted with it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_memories",
        sa.Column(
            "case_id",
            sa.String(40),
            sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("turn", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_turn", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", JSONB, nullable=False, server_default="{}"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_memories")
