"""investigation: one row per case that consented to an investigation

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:40:00

The investigation's lifecycle (phase, engagement mode, strategy, status), the problem it
confirmed and its OODA engine state; hypotheses stay in their own table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "investigations",
        sa.Column("investigation_id", sa.String(40), primary_key=True),
        sa.Column(
            "case_id",
            sa.String(40),
            sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("phase", sa.Integer, nullable=False, server_default="0"),
        sa.Column("engagement_mode", sa.String(24), nullable=False),
        sa.Column("strategy", sa.String(24), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("problem_statement", sa.Text, nullable=False, server_default=""),
        sa.Column("state", JSONB, nullable=False, server_default="{}"),
        sa.Column("consented_by", sa.String(40)),
        sa.Column("consented_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("investigations")
