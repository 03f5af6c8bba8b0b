"""Evidence rows and their chunks in PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.queries import page_of
from faultmaven.db.tables import Case, Evidence, EvidenceChunk


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


# -- retention: bounded batches in key order, so a sweep resumes where it stopped --------
class StoredEvidence(NamedTuple):
    """What deleting an evidence row leaves to clean up outside PostgreSQL."""

    evidence_id: str
    case_id: str
    s3_key: str
    job_id: str
    filename: str


_STORED = (
    Evidence.evidence_id,
    Evidence.case_id,
    Evidence.s3_key,
    Evidence.job_id,
    Evidence.filename,
)


def _of_closed_cases(closed_states: Collection[str]) -> ColumnElement[bool]:
    """Evidence whose case is over (one of `closed_states`) or deleted: retention never
    takes the evidence of an investigation still going on, however old."""
    return Evidence.case_id.in_(
        select(Case.case_id).where(
            or_(Case.status.in_(list(closed_states)), Case.deleted_at.is_not(None))
        )
    )


def created_before(
    session: Session,
    cutoff: datetime,
    closed_states: Collection[str],
    *,
    after: str | None,
    limit: int,
) -> list[StoredEvidence]:
    """Up to `limit` evidence rows created at or before `cutoff` in closed or deleted
    cases, after the id `after`."""
    query = select(*_STORED).where(Evidence.created_at <= cutoff, _of_closed_cases(closed_states))
    if after is not None:
        query = query.where(Evidence.evidence_id > after)
    rows = session.execute(query.order_by(Evidence.evidence_id).limit(limit))
    return [StoredEvidence(*row) for row in rows]


def delete_created_before(
    session: Session, evidence_ids: list[str], cutoff: datetime, closed_states: Collection[str]
) -> list[StoredEvidence]:
    """Delete those rows (their chunks go by ON DELETE CASCADE) and return what was
    really deleted: a row removed meanwhile by someone else is not counted twice."""
    if not evidence_ids:
        return []
    rows = session.execute(
        delete(Evidence)
        .where(
            Evidence.evidence_id.in_(evidence_ids),
            Evidence.created_at <= cutoff,
            _of_closed_cases(closed_states),  # a case reopened meanwhile keeps its evidence
        )
        .returning(*_STORED)
    )
    return [StoredEvidence(*row) for row in rows]


def cases_with_chunks(session: Session, *, after: str | None, limit: int) -> list[str]:
    """Up to `limit` ids of cases holding working-memory chunks, after the id `after`."""
    query = select(EvidenceChunk.case_id).distinct()
    if after is not None:
        query = query.where(EvidenceChunk.case_id > after)
    return list(session.scalars(query.order_by(EvidenceChunk.case_id).limit(limit)))


def _chunks_of(case_ids: list[str], created_before: datetime) -> ColumnElement[bool]:
    return and_(EvidenceChunk.case_id.in_(case_ids), EvidenceChunk.created_at <= created_before)


def count_chunks(session: Session, case_ids: list[str], created_before: datetime) -> int:
    if not case_ids:
        return 0
    query = select(func.count()).select_from(EvidenceChunk)
    return int(session.scalar(query.where(_chunks_of(case_ids, created_before))) or 0)


def delete_chunks(session: Session, case_ids: list[str], created_before: datetime) -> int:
    """Delete those cases' chunks created at or before the cutoff; the evidence rows stay."""
    if not case_ids:
        return 0
    result = session.execute(delete(EvidenceChunk).where(_chunks_of(case_ids, created_before)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def add(session: Session, evidence: Evidence) -> None:
    session.add(evidence)


def remove(session: Session, evidence: Evidence) -> None:
    """Delete the row; its chunks go with it (ON DELETE CASCADE)."""
    session.delete(evidence)


def keys_in_status(session: Session, status: str) -> list[str]:
    """The artifact keys of every evidence in `status` (few: uploads in flight)."""
    return list(session.scalars(select(Evidence.s3_key).where(Evidence.status == status)))


def existing_in_case(session: Session, case_id: str | None, evidence_ids: set[str]) -> set[str]:
    """Which of these evidence ids still exist in the case."""
    if case_id is None or not evidence_ids:
        return set()
    return set(
        session.scalars(
            select(Evidence.evidence_id).where(
                Evidence.case_id == case_id, Evidence.evidence_id.in_(evidence_ids)
            )
        )
    )


def of_cases(session: Session, case_ids: Collection[str]) -> list[Evidence]:
    """Every evidence row of these cases, in creation order."""
    if not case_ids:
        return []
    query = (
        select(Evidence)
        .where(Evidence.case_id.in_(list(case_ids)))
        .order_by(Evidence.case_id, Evidence.created_at, Evidence.evidence_id)
    )
    return list(session.scalars(query))


def delete_of_cases(session: Session, case_ids: Collection[str]) -> list[StoredEvidence]:
    """Delete every evidence row of these cases (chunks cascade); what was deleted."""
    if not case_ids:
        return []
    rows = session.execute(
        delete(Evidence).where(Evidence.case_id.in_(list(case_ids))).returning(*_STORED)
    )
    return [StoredEvidence(*row) for row in rows]


def same_content(
    session: Session, case_id: str, sha256: str, *, pending_since: datetime
) -> Evidence | None:
    """The case's evidence with these bytes, oldest first: processed or being processed,
    or waiting for its bytes since `pending_since` (older pending evidence lost its
    upload and is not reused)."""
    return session.scalars(
        select(Evidence)
        .where(
            Evidence.case_id == case_id,
            Evidence.content_sha256 == sha256,
            or_(
                Evidence.status.in_(("completed", "processing")),
                and_(Evidence.status == "pending", Evidence.created_at >= pending_since),
            ),
        )
        .order_by(Evidence.created_at)
    ).first()
