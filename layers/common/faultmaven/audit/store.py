"""The audit trail: one row per security-relevant change, written in the same transaction
as the change itself so the trail can never disagree with the data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from faultmaven.core.clock import utcnow
from faultmaven.core.context import current_request_id
from faultmaven.core.ids import new_id
from faultmaven.db.queries import page_of
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
    event = AuditEvent(
        event_id=new_id("aud"),
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        details=details or {},
        request_id=current_request_id(),
        created_at=utcnow(),
    )
    session.add(event)
    return event


def events_for_case(
    session: Session, case_id: str, *, limit: int, offset: int
) -> tuple[list[AuditEvent], int]:
    """A page of a case's trail, oldest first, and its total."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.created_at, AuditEvent.event_id)
    )
    return page_of(session, query, limit=limit, offset=offset)


def created_before(
    session: Session, cutoff: datetime, *, after: str | None, limit: int
) -> list[str]:
    """Up to `limit` ids of events recorded at or before `cutoff`, after the id `after`
    (key order, so a batched sweep never loads the whole trail)."""
    query = select(AuditEvent.event_id).where(AuditEvent.created_at <= cutoff)
    if after is not None:
        query = query.where(AuditEvent.event_id > after)
    return list(session.scalars(query.order_by(AuditEvent.event_id).limit(limit)))


def delete_created_before(session: Session, event_ids: list[str], cutoff: datetime) -> int:
    if not event_ids:
        return 0
    result = session.execute(
        delete(AuditEvent).where(
            AuditEvent.event_id.in_(event_ids), AuditEvent.created_at <= cutoff
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
