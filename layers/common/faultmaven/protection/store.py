"""The protection event archive in PostgreSQL: written in batches off the request path,
read for forensics, swept by retention after 30 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from faultmaven.db.tables import ProtectionEvent as EventRow
from faultmaven.protection.models import ProtectionEvent


def insert_events(session: Session, events: Sequence[ProtectionEvent]) -> int:
    """One multi-row INSERT for a whole flush."""
    if not events:
        return 0
    session.execute(
        insert(EventRow),
        [
            {
                "event_id": e.event_id,
                "occurred_at": e.occurred_at,
                "last_at": e.last_at,
                "kind": e.kind.value,
                "scope": e.scope.value,
                "subject": e.subject,
                "route_class": e.route_class.value if e.route_class else None,
                "level": e.level.value,
                "previous_level": e.previous_level.value if e.previous_level else None,
                "count": e.count,
                "details": e.details,
            }
            for e in events
        ],
    )
    return len(events)


def events_for(
    session: Session, *, scope: str | None = None, subject: str | None = None, limit: int = 100
) -> list[ProtectionEvent]:
    """The most recent events, newest first, optionally of one subject."""
    query = select(EventRow)
    if scope is not None:
        query = query.where(EventRow.scope == scope)
    if subject is not None:
        query = query.where(EventRow.subject == subject)
    rows = session.scalars(
        query.order_by(EventRow.occurred_at.desc(), EventRow.event_id).limit(limit)
    )
    return [ProtectionEvent.model_validate(row, from_attributes=True) for row in rows]


def created_before(
    session: Session, cutoff: datetime, *, after: str | None, limit: int
) -> list[str]:
    """Up to `limit` ids of events last seen at or before `cutoff`, after the id `after`
    (key order, so retention walks the archive in bounded batches)."""
    query = select(EventRow.event_id).where(EventRow.last_at <= cutoff)
    if after is not None:
        query = query.where(EventRow.event_id > after)
    return list(session.scalars(query.order_by(EventRow.event_id).limit(limit)))


def delete_created_before(session: Session, event_ids: list[str], cutoff: datetime) -> int:
    if not event_ids:
        return 0
    result = session.execute(
        delete(EventRow).where(EventRow.event_id.in_(event_ids), EventRow.last_at <= cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
