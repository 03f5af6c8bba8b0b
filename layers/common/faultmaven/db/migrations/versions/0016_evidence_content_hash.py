"""evidence content hash: a file sent again to a case is the evidence it already has

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 15:45:00

Files the server receives itself (a chat turn's attachments) carry the SHA-256 of their
bytes; a retried turn, or the same log attached twice, finds the case's existing
evidence instead of storing and preprocessing it again. Presigned uploads have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("content_sha256", sa.String(64), nullable=True))
    op.create_index(
        "ix_evidence_case_content",
        "evidence",
        ["case_id", "content_sha256"],
        postgresql_where=sa.text("content_sha256 IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_case_content", table_name="evidence")
    op.drop_column("evidence", "content_sha256")
