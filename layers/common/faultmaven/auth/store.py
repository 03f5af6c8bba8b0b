"""Users in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern, page_of
from faultmaven.db.tables import RefreshToken, RevokedAccessToken, User


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


# -- durable token revocation -------------------------------------------------------------
# Redis caches these answers (auth/revocation.py); PostgreSQL is what they are.


def login_candidate(session: Session, identifier: str) -> User | None:
    """The live account a login names, read without a lock: the password is verified
    after this transaction ends, so no connection or row lock waits on Argon2."""
    return find_by_login(session, identifier)


def record_refresh_token(
    session: Session, token_id: str, user_id: str, issued_at: datetime, expires_at: datetime
) -> None:
    session.add(
        RefreshToken(token_id=token_id, user_id=user_id, issued_at=issued_at, expires_at=expires_at)
    )


def spend_refresh_token(session: Session, token_id: str, user_id: str, now: datetime) -> bool:
    """Mark the refresh token used, atomically: True for exactly one caller while it is
    unspent and unexpired, so rotation is exactly-once even across instances."""
    spent = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_id == token_id,
            RefreshToken.user_id == user_id,
            RefreshToken.spent_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(spent_at=now)
        .returning(RefreshToken.token_id)
    ).first()
    return spent is not None


def revoke_access_token(
    session: Session, token_id: str, user_id: str, now: datetime, expires_at: datetime
) -> None:
    session.execute(
        pg_insert(RevokedAccessToken)
        .values(token_id=token_id, user_id=user_id, revoked_at=now, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[RevokedAccessToken.token_id])
    )


def access_token_state(
    session: Session, token_id: str, user_id: str
) -> tuple[bool, datetime | None]:
    """Whether this access token was revoked, and the user's tokens_not_before; one
    round trip (a cache miss on the request path pays it)."""
    revoked = (
        select(RevokedAccessToken.token_id).where(RevokedAccessToken.token_id == token_id).exists()
    )
    row = session.execute(
        select(revoked, User.tokens_not_before).where(User.user_id == user_id)
    ).first()
    if row is None:  # no such user: nothing of theirs is valid
        return True, None
    return bool(row[0]), row[1]


def set_tokens_not_before(session: Session, user_id: str, when: datetime) -> None:
    session.execute(update(User).where(User.user_id == user_id).values(tokens_not_before=when))


def forget_expired_tokens(session: Session, user_id: str, now: datetime) -> None:
    """Drop the user's token rows past expiry (their signatures refuse them anyway).
    Run at each login, so the tables stay proportional to tokens still alive."""
    for table in (RefreshToken, RevokedAccessToken):
        session.execute(delete(table).where(table.user_id == user_id, table.expires_at < now))
