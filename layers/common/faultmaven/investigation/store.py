"""Persistence of investigations (one row per case)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.db.tables import Investigation


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
    result = session.execute(delete(Investigation).where(Investigation.case_id == case_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
