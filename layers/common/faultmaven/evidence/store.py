"""Evidence rows and their chunks in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.queries import page_of
from faultmaven.db.tables import Evidence, EvidenceChunk


def get(session: Session, evidence_id: str, *, for_update: bool = False) -> Evidence | None:
    if not looks_like_id(evidence_id, "evd"):
        return None
    return session.get(Evidence, evidence_id, with_for_update=for_update)


def of_case(
    session: Session, case_id: str, *, limit: int, offset: int
) -> tuple[list[Evidence], int]:
    query = (
        select(Evidence)
        .where(Evidence.case_id == case_id)
        .order_by(Evidence.created_at, Evidence.evidence_id)
    )
    return page_of(session, query, limit=limit, offset=offset)


def replace_chunks(session: Session, evidence: Evidence, chunks: list[EvidenceChunk]) -> None:
    """Idempotent: a retried Index step leaves exactly one set of chunks."""
    session.execute(delete(EvidenceChunk).where(EvidenceChunk.evidence_id == evidence.evidence_id))
    session.add_all(chunks)
