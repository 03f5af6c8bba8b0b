"""kb share grantee type fits 'organization'; section headings in full-text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEARCH_WITH_HEADINGS = "to_tsvector('english', title || ' ' || headings || ' ' || text)"
_SEARCH_WITHOUT = "to_tsvector('english', title || ' ' || text)"


def _replace_search(expression: str) -> None:
    op.drop_index("ix_vector_chunks_search", table_name="vector_chunks")
    op.drop_column("vector_chunks", "search")
    op.add_column(
        "vector_chunks",
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(expression, persisted=True),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_vector_chunks_search",
        "vector_chunks",
        ["search"],
        unique=False,
        postgresql_using="gin",
    )


def upgrade() -> None:
    # "organization" has 12 characters: VARCHAR(8) refused every organization share.
    op.alter_column(
        "kb_shares",
        "grantee_type",
        existing_type=sa.String(length=8),
        type_=sa.String(length=16),
        existing_nullable=False,
    )
    op.add_column(
        "vector_chunks", sa.Column("headings", sa.Text(), server_default="", nullable=False)
    )
    op.execute("UPDATE vector_chunks SET headings = array_to_string(heading_path, ' ')")
    _replace_search(_SEARCH_WITH_HEADINGS)


def downgrade() -> None:
    _replace_search(_SEARCH_WITHOUT)
    op.drop_column("vector_chunks", "headings")
    op.alter_column(
        "kb_shares",
        "grantee_type",
        existing_type=sa.String(length=16),
        type_=sa.String(length=8),
        existing_nullable=False,
    )
