"""evidence: how the summary was made

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00

The Summarize step asks a language model when one is configured and falls back to the
analyzer's deterministic summary otherwise; the evidence says which, so a reader knows
whether a model wrote what they read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("summary_origin", JSONB))


def downgrade() -> None:
    op.drop_column("evidence", "summary_origin")
