"""investigation: one row per case that consented to an investigation; evidence requests

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:40:00

The investigation's lifecycle (phase, engagement mode, strategy, status), the problem it
confirmed and its OODA engine state; hypotheses stay in their own table. The evidence
the agent asked for, with its acquisition guidance and status.
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

    op.create_table(
        "evidence_requests",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column(
            "case_id",
            sa.String(40),
            sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("guidance", JSONB, nullable=False, server_default="{}"),
        sa.Column("for_hypothesis_id", sa.String(40)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("fulfilled_by", JSONB, nullable=False, server_default="[]"),
        sa.Column("created_at_turn", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_evidence_requests_case", "evidence_requests", ["case_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_evidence_requests_case", table_name="evidence_requests")
    op.drop_table("evidence_requests")
    op.drop_table("investigations")
