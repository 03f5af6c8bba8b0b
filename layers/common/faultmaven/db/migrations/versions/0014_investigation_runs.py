"""investigation runs: the autonomous run's task token on the evidence it waits for

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:00:00

A state machine execution that needs evidence parks on a Step Functions task token; the
token is kept with the evidence requests it waits for, so the upload or answer that
satisfies one of them can resume the execution (and a blocked request can fail it).
The runs themselves (execution name, job, status, reason) live in the investigation's
state document.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence_requests", sa.Column("task_token", sa.Text(), nullable=True))
    op.create_index(
        "ix_evidence_requests_waiting",
        "evidence_requests",
        ["case_id"],
        postgresql_where=sa.text("task_token IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_requests_waiting", table_name="evidence_requests")
    op.drop_column("evidence_requests", "task_token")
