"""What other domains may ask about users inside their own transaction (a participant
or a grantee must exist while it is added). The SQL is in `auth.store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultmaven.auth import store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.db.tables import User


def live_user(session: Session, user_id: str) -> User | None:
    """The user unless the id is malformed or the account soft-deleted."""
    return store.live_user(session, user_id)
