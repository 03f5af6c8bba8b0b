"""Users in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.tables import User


def live_user(session: Session, user_id: str) -> User | None:
    """The user unless soft-deleted."""
    user = session.get(User, user_id) if looks_like_id(user_id, "usr") else None
    return user if user is not None and user.deleted_at is None else None


def find_by_login(session: Session, identifier: str) -> User | None:
    """By email or username, case-insensitively, ignoring soft-deleted accounts."""
    column = User.email if "@" in identifier else User.username
    query = select(User).where(func.lower(column) == identifier.lower(), User.deleted_at.is_(None))
    return session.scalars(query).first()


def taken_fields(session: Session, email: str, username: str) -> list[str]:
    query = select(User.email, User.username).where(
        User.deleted_at.is_(None),
        (func.lower(User.email) == email.lower()) | (func.lower(User.username) == username.lower()),
    )
    taken: set[str] = set()
    for found_email, found_username in session.execute(query):
        if found_email.lower() == email.lower():
            taken.add("email")
        if found_username.lower() == username.lower():
            taken.add("username")
    return sorted(taken)
