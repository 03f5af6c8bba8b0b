"""vector chunk ids fit a document id and a four-digit ordinal

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 00:46:00

KB chunk ids are `<document id>-<ordinal>`: 36 characters plus the ordinal, so a document
of 1,000 chunks or more could not be indexed in VARCHAR(40).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column(
        "vector_chunks",
        "chunk_id",
        existing_type=sa.String(length=40),
        type_=sa.String(length=64),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "vector_chunks",
        "chunk_id",
        existing_type=sa.String(length=64),
        type_=sa.String(length=40),
        existing_nullable=False,
    )
