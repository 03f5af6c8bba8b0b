"""What other domains may ask about cases inside their own transaction. The SQL is in
`cases.store`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from faultmaven.cases import store
from faultmaven.cases.models import CaseStatus

if TYPE_CHECKING:
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
