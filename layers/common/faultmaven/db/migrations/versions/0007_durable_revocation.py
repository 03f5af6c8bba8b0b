"""durable token revocation: refresh tokens, revoked access tokens, tokens_not_before

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-01 20:00:00

Revocation lived only in Redis, so a flushed or replaced cache brought revoked tokens
back. PostgreSQL now holds it; Redis caches the answers. Refresh tokens issued before
this revision have no row and are refused: their holders log in again once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("tokens_not_before", TS, nullable=True))
    op.create_table(
        "refresh_tokens",
        sa.Column("token_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("spent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name="fk_refresh_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name="pk_refresh_tokens"),
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_table(
        "revoked_access_tokens",
        sa.Column("token_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("revoked_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name="fk_revoked_access_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name="pk_revoked_access_tokens"),
    )
    op.create_index("ix_revoked_access_tokens_expires_at", "revoked_access_tokens", ["expires_at"])
    op.create_index("ix_revoked_access_tokens_user_id", "revoked_access_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("revoked_access_tokens")
    op.drop_table("refresh_tokens")
    op.drop_column("users", "tokens_not_before")
