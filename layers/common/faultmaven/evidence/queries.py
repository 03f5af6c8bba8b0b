"""What other domains may ask about evidence inside their own transaction: the case
memory is re-checked against the evidence that still exists, so chunks of deleted
evidence are never returned. The SQL is in `evidence.store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultmaven.evidence import store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def existing_in_case(session: Session, case_id: str | None, evidence_ids: set[str]) -> set[str]:
    """Which of these evidence ids still exist in the case."""
    return store.existing_in_case(session, case_id, evidence_ids)
