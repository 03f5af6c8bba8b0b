"""Users in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern, page_of
from faultmaven.db.tables import User


def live_user(session: Session, user_id: str, *, for_update: bool = False) -> User | None:
    """The user unless soft-deleted; `for_update` locks the row until the transaction ends."""
    if not looks_like_id(user_id, "usr"):
        return None
    user = session.get(User, user_id, with_for_update=for_update)
    return user if user is not None and user.deleted_at is None else None


def find_by_login(session: Session, identifier: str, *, for_update: bool = False) -> User | None:
    """By email or username, case-insensitively, ignoring soft-deleted accounts."""
    column = User.email if "@" in identifier else User.username
    query = select(User).where(func.lower(column) == identifier.lower(), User.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def search(
    session: Session, text: str | None, *, limit: int, offset: int
) -> tuple[list[User], int]:
    """Live users, optionally those whose email, username or name contains `text`."""
    query = select(User).where(User.deleted_at.is_(None))
    if text:
        pattern = contains_pattern(text)
        query = query.where(
            User.email.ilike(pattern, escape=LIKE_ESCAPE)
            | User.username.ilike(pattern, escape=LIKE_ESCAPE)
            | User.display_name.ilike(pattern, escape=LIKE_ESCAPE)
        )
    return page_of(
        session, query.order_by(User.created_at, User.user_id), limit=limit, offset=offset
    )


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


def add_user(session: Session, user: User) -> bool:
    """Insert a new account; False when a concurrent registration took the email or the
    username first (the unique indexes decide, after `taken_fields` said they were free)."""
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        return False
    return True
