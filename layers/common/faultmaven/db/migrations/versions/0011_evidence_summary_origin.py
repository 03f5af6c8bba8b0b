"""evidence: how the summary was made; running totals of model spend

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00

The Summarize step asks a language model when one is configured and falls back to the
analyzer's deterministic summary otherwise; the evidence says which, so a reader knows
whether a model wrote what they read.

history_spend keeps each case's and each session's model spend as running totals, so a
budget check (on every model call) reads two rows instead of summing a case's history;
it is filled from the interactions already recorded.
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
    op.create_table(
        "history_spend",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cache_creation_input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cache_read_input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Numeric(16, 6), nullable=False, server_default="0"),
    )
    for prefix, key in (("session:", "i.session_id"), ("case:", "s.case_id")):
        op.execute(
            "INSERT INTO history_spend (scope, input_tokens, output_tokens, "  # noqa: S608
            "cache_creation_input_tokens, cache_read_input_tokens, cost_usd) "
            f"SELECT '{prefix}' || {key}, sum(i.input_tokens), sum(i.output_tokens), "
            "sum(i.cache_creation_input_tokens), sum(i.cache_read_input_tokens), "
            "sum(i.cost_usd) FROM history_llm_interactions i "
            "JOIN history_sessions s ON s.id = i.session_id "
            f"WHERE {key} IS NOT NULL GROUP BY {key}"
        )


def downgrade() -> None:
    op.drop_table("history_spend")
    op.drop_column("evidence", "summary_origin")
