"""Persistence of investigations (one row per case)."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.db.queries import page_of
from faultmaven.db.tables import EvidenceRequest, Investigation


def of_case(session: Session, case_id: str, *, for_update: bool = False) -> Investigation | None:
    query = select(Investigation).where(Investigation.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def create(session: Session, values: dict[str, object]) -> Investigation:
    """Insert unless the case has one already (two consents at once), then the row."""
    session.execute(
        insert(Investigation).values(**values).on_conflict_do_nothing(index_elements=["case_id"])
    )
    row = of_case(session, str(values["case_id"]), for_update=True)
    assert row is not None
    return row


def delete_of_case(session: Session, case_id: str) -> int:
    """The case's investigation and its evidence requests."""
    session.execute(delete(EvidenceRequest).where(EvidenceRequest.case_id == case_id))
    result = session.execute(delete(Investigation).where(Investigation.case_id == case_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def add_requests(session: Session, rows: list[EvidenceRequest]) -> None:
    session.add_all(rows)
    session.flush()


def requests_of_case(
    session: Session,
    case_id: str,
    *,
    limit: int,
    offset: int,
    statuses: frozenset[str] | None,
    for_update: bool = False,
) -> tuple[list[EvidenceRequest], int]:
    query = select(EvidenceRequest).where(EvidenceRequest.case_id == case_id)
    if statuses is not None:
        query = query.where(EvidenceRequest.status.in_(sorted(statuses)))
    query = query.order_by(EvidenceRequest.created_at, EvidenceRequest.request_id)
    if for_update:
        rows = list(session.scalars(query.limit(limit).offset(offset).with_for_update()).all())
        return rows, len(rows)
    return page_of(session, query, limit=limit, offset=offset)


def request(
    session: Session, request_id: str, *, for_update: bool = False
) -> EvidenceRequest | None:
    query = select(EvidenceRequest).where(EvidenceRequest.request_id == request_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def blocked_count(session: Session, case_id: str) -> int:
    session.flush()  # count the change made in this transaction too
    return int(
        session.scalar(
            select(func.count())
            .select_from(EvidenceRequest)
            .where(EvidenceRequest.case_id == case_id, EvidenceRequest.status == "blocked")
        )
        or 0
    )


def park(session: Session, case_id: str, token: str, statuses: frozenset[str]) -> int:
    """Attach a waiting execution's task token to the case's open requests."""
    result = session.execute(
        update(EvidenceRequest)
        .where(EvidenceRequest.case_id == case_id, EvidenceRequest.status.in_(sorted(statuses)))
        .values(task_token=token)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release(session: Session, token: str) -> int:
    """No request waits on `token` any more (it was answered, failed or timed out)."""
    result = session.execute(
        update(EvidenceRequest).where(EvidenceRequest.task_token == token).values(task_token=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_case(session: Session, case_id: str) -> int:
    result = session.execute(
        update(EvidenceRequest)
        .where(EvidenceRequest.case_id == case_id, EvidenceRequest.task_token.is_not(None))
        .values(task_token=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
