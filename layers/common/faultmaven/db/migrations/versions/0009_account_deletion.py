"""users: when the account's deletion was requested

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 20:45:00

A deleted account is stopped at once and erased by a background task; this marks the
accounts that task may erase (and lets a retried task finish the work).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("deletion_requested_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("users", "deletion_requested_at")
