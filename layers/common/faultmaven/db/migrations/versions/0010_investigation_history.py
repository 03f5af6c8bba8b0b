"""investigation history: sessions, stages, LLM and tool interactions (TARSy EP-0010)

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 23:00:00

One history session per investigation or preprocessing run, a stage per phase or step,
and one row per language-model or tool call, with the redacted request, the response,
tokens and cost. Rows follow their case (CASCADE); retention prunes them with the audit
policy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def _jsonb(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A JSONB column: an object defaulting to {} unless it may be absent (NULL)."""
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=None if nullable else "{}",
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "history_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("owner_id", sa.String(length=40), nullable=True),
        sa.Column("agent_type", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=128), nullable=True),
        sa.Column("alert_type", sa.String(length=128), nullable=True),
        _jsonb("alert_data"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.Column("completed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("final_analysis", sa.Text(), nullable=True),
        _jsonb("session_metadata"),
        sa.Column("chain_id", sa.String(length=128), nullable=False),
        _jsonb("chain_definition"),
        sa.Column("current_stage_index", sa.Integer(), nullable=True),
        sa.Column("current_stage_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.case_id"],
            name=op.f("fk_history_sessions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.user_id"],
            name=op.f("fk_history_sessions_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_sessions")),
    )
    op.create_index("ix_history_sessions_case", "history_sessions", ["case_id", "started_at_us"])
    op.create_index("ix_history_sessions_owner", "history_sessions", ["owner_id"])
    op.create_index("ix_history_sessions_started", "history_sessions", ["started_at_us", "id"])
    op.create_index("ix_history_sessions_status", "history_sessions", ["status", "started_at_us"])
    op.create_index(
        "ix_history_sessions_agent_type", "history_sessions", ["agent_type", "started_at_us"]
    )
    op.create_index(
        "ix_history_sessions_alert_type", "history_sessions", ["alert_type", "started_at_us"]
    )
    op.create_index(
        "ix_history_sessions_retention",
        "history_sessions",
        [sa.text("coalesce(completed_at_us, started_at_us)")],
    )

    op.create_table(
        "history_stages",
        sa.Column("execution_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("stage_id", sa.String(length=128), nullable=False),
        sa.Column("stage_index", sa.Integer(), nullable=False),
        sa.Column("stage_name", sa.String(length=200), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=True),
        sa.Column("completed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        _jsonb("stage_output", nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["history_sessions.id"],
            name=op.f("fk_history_stages_session_id_history_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_history_stages")),
    )
    op.create_index("ix_history_stages_session", "history_stages", ["session_id", "stage_index"])

    op.create_table(
        "history_llm_interactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("stage_execution_id", sa.String(length=40), nullable=True),
        sa.Column("timestamp_us", sa.BigInteger(), nullable=False),
        sa.Column("step_description", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        _jsonb("request"),
        _jsonb("response", nullable=True),
        sa.Column("input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cost_usd", sa.Numeric(14, 6), server_default="0", nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        _jsonb("tool_calls", nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["history_sessions.id"],
            name=op.f("fk_history_llm_interactions_session_id_history_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_execution_id"],
            ["history_stages.execution_id"],
            name=op.f("fk_history_llm_interactions_stage_execution_id_history_stages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_llm_interactions")),
    )
    op.create_index(
        "ix_history_llm_interactions_session",
        "history_llm_interactions",
        ["session_id", "timestamp_us"],
    )
    op.create_index(
        "ix_history_llm_interactions_stage", "history_llm_interactions", ["stage_execution_id"]
    )

    op.create_table(
        "history_tool_interactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("stage_execution_id", sa.String(length=40), nullable=True),
        sa.Column("timestamp_us", sa.BigInteger(), nullable=False),
        sa.Column("step_description", sa.Text(), nullable=False),
        sa.Column("server_name", sa.String(length=128), nullable=False),
        sa.Column("tool_name", sa.String(length=128), nullable=False),
        sa.Column("communication_type", sa.String(length=32), nullable=False),
        _jsonb("arguments"),
        _jsonb("result"),
        _jsonb("available_tools"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["history_sessions.id"],
            name=op.f("fk_history_tool_interactions_session_id_history_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_execution_id"],
            ["history_stages.execution_id"],
            name=op.f("fk_history_tool_interactions_stage_execution_id_history_stages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_tool_interactions")),
    )
    op.create_index(
        "ix_history_tool_interactions_session",
        "history_tool_interactions",
        ["session_id", "timestamp_us"],
    )
    op.create_index(
        "ix_history_tool_interactions_stage", "history_tool_interactions", ["stage_execution_id"]
    )


def downgrade() -> None:
    op.drop_table("history_tool_interactions")
    op.drop_table("history_llm_interactions")
    op.drop_table("history_stages")
    op.drop_table("history_sessions")
