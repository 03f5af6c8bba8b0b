"""Token revocation that survives the cache: PostgreSQL holds it, Redis caches it.

Losing Redis (a FLUSHDB, a failover, a fresh ElastiCache node) must never bring a revoked
token back, so every revocation is written to PostgreSQL and a missing cache entry means
"ask PostgreSQL", never "not revoked". The request path stays one Redis round trip while
the cache is warm: both answers a request needs (this token revoked? the user's
tokens-not-before mark) are cached, positive answers until they stop mattering and
negative ones for `negative_ttl` seconds.

Cache fills use SET NX and revocations overwrite (before their transaction commits), so
a reader that read PostgreSQL just before a revocation cannot cache the stale answer over
the new one. A revocation whose transaction then fails leaves a spurious "revoked" entry:
the safe direction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from faultmaven.core.context import is_priming
from faultmaven.core.ports import KeyValueStore

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.core.ports import Database

DENYLIST_PREFIX = "token_denylist:"
USER_REVOKED_PREFIX = "tokens_not_before:"
REVOKED, NOT_REVOKED = "1", "0"
NO_MARK = "0"


def _epoch(moment: datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp())


class Revocations:
    def __init__(
        self,
        database: Database,
        cache: KeyValueStore,
        *,
        mark_ttl: int,
        negative_ttl: int = 60,
    ) -> None:
        self._db = database
        self._cache = cache
        self._mark_ttl = mark_ttl  # longer than any token lives
        self._negative_ttl = negative_ttl

    def access_revoked(self, token_id: str, user_id: str, issued_at: int) -> bool:
        revoked, not_before = self._cache.get_many(
            [DENYLIST_PREFIX + token_id, USER_REVOKED_PREFIX + user_id]
        )
        if revoked is None or not_before is None:
            revoked, not_before = self._fill(token_id, user_id, revoked, not_before)
        return revoked == REVOKED or issued_at < int(not_before)

    def _fill(
        self, token_id: str, user_id: str, revoked: str | None, not_before: str | None
    ) -> tuple[str, str]:
        """A cache miss: PostgreSQL answers and the answer is cached (NX: a concurrent
        revocation's value wins over ours)."""
        from faultmaven.auth import store  # SQLAlchemy only once a cache miss needs it

        with self._db.session() as session:
            is_revoked, mark = store.access_token_state(session, token_id, user_id)
        if is_priming():  # a SnapStart init's synthetic request: answer, keep nothing
            revoked = revoked or (REVOKED if is_revoked else NOT_REVOKED)
            not_before = not_before or (str(_epoch(mark)) if mark is not None else NO_MARK)
            return revoked, not_before
        if revoked is None:
            revoked = REVOKED if is_revoked else NOT_REVOKED
            ttl = self._mark_ttl if is_revoked else self._negative_ttl
            self._cache.put(DENYLIST_PREFIX + token_id, revoked, ttl, only_if_absent=True)
        if not_before is None:
            not_before = str(_epoch(mark)) if mark is not None else NO_MARK
            ttl = self._mark_ttl if mark is not None else self._negative_ttl
            self._cache.put(USER_REVOKED_PREFIX + user_id, not_before, ttl, only_if_absent=True)
        return revoked, not_before

    def revoke_access(self, session: Session, token_id: str, user_id: str, expires_at: int) -> None:
        """Refuse this access token until it expires. Written in the caller's
        transaction; the cache is updated before it commits, so a Redis failure rolls
        the revocation back (503) instead of half-applying it."""
        from faultmaven.auth import store

        now = datetime.now(UTC)
        store.revoke_access_token(
            session, token_id, user_id, now, datetime.fromtimestamp(expires_at, UTC)
        )
        remaining = max(1, expires_at - int(time.time()) + 5)
        self._cache.put(DENYLIST_PREFIX + token_id, REVOKED, remaining)

    def revoke_all(self, session: Session, user_id: str) -> int:
        """Refuse every token of the user issued up to now. `iat` has one-second
        resolution, so the mark is the next whole second; returned as epoch seconds."""
        from faultmaven.auth import store

        mark = int(time.time()) + 1
        store.set_tokens_not_before(session, user_id, datetime.fromtimestamp(mark, UTC))
        self._cache.put(USER_REVOKED_PREFIX + user_id, str(mark), self._mark_ttl)
        return mark
