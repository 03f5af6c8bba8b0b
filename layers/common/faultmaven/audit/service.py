"""The audit trail as other domains use it: an event is written with the caller's own
session, inside the transaction of the change it records, so the trail can never
disagree with the data. The SQL is in `audit.store`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from faultmaven.audit import store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.db.tables import AuditEvent


def record(
    session: Session,
    *,
    actor_id: str | None,
    action: str,
    object_type: str,
    object_id: str,
    case_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return store.record(
        session,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        details=details,
    )


def events_for_case(
    session: Session, case_id: str, *, limit: int, offset: int
) -> tuple[list[AuditEvent], int]:
    """A page of a case's trail, oldest first, and its total."""
    return store.events_for_case(session, case_id, limit=limit, offset=offset)


def expire(
    session: Session, cutoff: datetime, *, after: str | None, limit: int, dry_run: bool
) -> tuple[list[str], int]:
    """One retention batch: the ids examined (key order, after `after`) and how many of
    them were deleted (or would be, in a dry run)."""
    ids = store.created_before(session, cutoff, after=after, limit=limit)
    if dry_run or not ids:
        return ids, len(ids)
    return ids, store.delete_created_before(session, ids, cutoff)
