"""What other domains may ask about cases inside their own transaction. The SQL is in
`cases.store`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from faultmaven.cases import store
from faultmaven.cases.models import CaseStatus
from faultmaven.organizations.queries import scopes_in

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session


def closed_before(
    session: Session,
    case_ids: Sequence[str],
    statuses: Collection[CaseStatus],
    cutoff: datetime,
    *,
    lock: bool = False,
) -> list[str]:
    """Those of `case_ids` in one of `statuses` that closed at or before `cutoff`; `lock`
    share-locks them so a reopen cannot slip in before the caller's transaction ends
    (retention deletes the working memory of closed cases under that lock)."""
    return store.closed_before(session, case_ids, statuses, cutoff, lock=lock)


def visible_case_ids(session: Session, user_id: str, *, sees_all: bool = False) -> Select[Any]:
    """A subquery of the ids of the live cases `user_id` reads: owned, shared with them as
    a participant, or through their team or organization; `sees_all` (an analyst) every
    live case. Other domains list their rows of those cases with it (history sessions)."""
    return store.visible_case_ids(user_id, scopes_in(session, user_id), sees_all=sees_all)


def status_and_owner(session: Session, case_id: str) -> tuple[CaseStatus, str] | None:
    """A live case's status and owner (for work done on its behalf: alerts add to the
    case their fingerprint opened while it is open); None once it is deleted."""
    case = store.live_case(session, case_id)
    return (CaseStatus(case.status), case.owner_id) if case is not None else None
