"""The audit trail: one row per security-relevant change, written in the same transaction
as the change itself so the trail can never disagree with the data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
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
