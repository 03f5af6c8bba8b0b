"""Sessions: create or resume per client, heartbeat, list, end. A user only ever sees
their own sessions; anyone else's is reported as not found."""

from __future__ import annotations

from datetime import timedelta

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import NotFoundError
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import KeyValueStore
from faultmaven.sessions.models import SessionCreate, SessionOut, SessionRecord
from faultmaven.sessions.store import SessionStore


class SessionService:
    def __init__(
        self, kv: KeyValueStore, *, default_ttl_minutes: int, max_sessions_per_user: int
    ) -> None:
        self._store = SessionStore(kv)
        self._default_ttl_minutes = default_ttl_minutes
        self._max_sessions = max_sessions_per_user

    def create_or_resume(self, principal: Principal, request: SessionCreate) -> SessionOut:
        if request.client_id is not None:
            resumed = self._resume(principal.user_id, request.client_id)
            if resumed is not None:
                return resumed
        minutes = request.timeout_minutes or self._default_ttl_minutes
        now = utcnow()
        record = SessionRecord(
            session_id=new_id("ses"),
            user_id=principal.user_id,
            client_id=request.client_id,
            created_at=now,
            last_activity_at=now,
            expires_at=now + timedelta(minutes=minutes),
            timeout_minutes=minutes,
            metadata=request.metadata,
        )
        self._store.add(record, minutes * 60)
        if request.client_id is not None:
            holder = self._store.claim_client(
                principal.user_id, request.client_id, record.session_id, minutes * 60
            )
            if holder is not None and holder != record.session_id:
                # A concurrent request for the same client won: hand back its session.
                winner = self._store.get(holder)
                if winner is not None and winner.user_id == principal.user_id:
                    self._store.delete(record)
                    touched = self._touch(winner)
                    if touched is not None:
                        return SessionOut(**touched.model_dump(), session_resumed=True)
                # The pointer outlived its session: take it over.
                self._store.point_client(
                    principal.user_id, request.client_id, record.session_id, minutes * 60
                )
        self._evict_oldest(principal.user_id, keep=record.session_id)
        return SessionOut(**record.model_dump(), session_resumed=False)

    def get(self, principal: Principal, session_id: str) -> SessionOut:
        return SessionOut(**self._owned(principal, session_id).model_dump())

    def heartbeat(self, principal: Principal, session_id: str) -> SessionOut:
        touched = self._touch(self._owned(principal, session_id))
        if touched is None:  # ended between the read and the write
            raise NotFoundError("Session not found", error_code="SESSION_NOT_FOUND")
        return SessionOut(**touched.model_dump())

    def end(self, principal: Principal, session_id: str) -> None:
        self._store.delete(self._owned(principal, session_id))

    def list_mine(self, principal: Principal, page: PageRequest) -> Page[SessionOut]:
        live = self._live_sessions(principal.user_id)
        live.sort(key=lambda r: (r.last_activity_at, r.session_id), reverse=True)
        window = live[page.offset : page.offset + page.page_size]
        return Page[SessionOut].of([SessionOut(**r.model_dump()) for r in window], len(live), page)

    def _live_sessions(self, user_id: str) -> list[SessionRecord]:
        ids = sorted(self._store.user_session_ids(user_id))
        records = self._store.get_many(ids)
        expired = [sid for sid, record in zip(ids, records, strict=True) if record is None]
        if expired:
            self._store.forget(user_id, *expired)
        return [r for r in records if r is not None]

    def _resume(self, user_id: str, client_id: str) -> SessionOut | None:
        session_id = self._store.client_session_id(user_id, client_id)
        existing = self._store.get(session_id) if session_id else None
        if existing is None or existing.user_id != user_id:
            return None
        touched = self._touch(existing)
        return None if touched is None else SessionOut(**touched.model_dump(), session_resumed=True)

    def _evict_oldest(self, user_id: str, *, keep: str) -> None:
        """End the least recently active sessions beyond the per-user limit."""
        others = [r for r in self._live_sessions(user_id) if r.session_id != keep]
        surplus = len(others) + 1 - self._max_sessions
        if surplus > 0:
            for record in sorted(others, key=lambda r: r.last_activity_at)[:surplus]:
                self._store.delete(record)

    def _owned(self, principal: Principal, session_id: str) -> SessionRecord:
        record = self._store.get(session_id) if looks_like_id(session_id, "ses") else None
        if record is None or record.user_id != principal.user_id:
            raise NotFoundError("Session not found", error_code="SESSION_NOT_FOUND")
        return record

    def _touch(self, record: SessionRecord) -> SessionRecord | None:
        """Record activity and restart the TTL; None when the session is already gone."""
        now = utcnow()
        touched = record.model_copy(
            update={
                "last_activity_at": now,
                "expires_at": now + timedelta(minutes=record.timeout_minutes),
            }
        )
        return touched if self._store.refresh(touched, record.timeout_minutes * 60) else None

    # -- retention: one bounded step of a keyspace walk each ----------------------------
    def sweep_user_indexes(self, cursor: int, *, count: int, dry_run: bool) -> tuple[int, int, int]:
        """Remove `user_sessions:{user}` entries naming a session that expired or ended:
        nothing else removes those of a user who never lists or creates sessions again.
        Returns the cursor to continue from (0 when done), entries examined and stale."""
        cursor, user_ids = self._store.scan_user_indexes(cursor, count)
        examined = stale_total = 0
        for user_id in user_ids:
            members = sorted(self._store.user_session_ids(user_id))
            for start in range(0, len(members), count):
                chunk = members[start : start + count]
                live = self._store.existing(chunk)
                stale = [m for m in chunk if m not in live]
                examined += len(chunk)
                if stale and not dry_run:
                    self._store.forget(user_id, *stale)
                stale_total += len(stale)
        return cursor, examined, stale_total

    def sweep_client_pointers(
        self, cursor: int, *, count: int, dry_run: bool
    ) -> tuple[int, int, int]:
        """Release `session_client:{user}:{client}` pointers to sessions that are gone;
        the same shape of answer as `sweep_user_indexes`."""
        cursor, pairs = self._store.scan_client_pointers(cursor, count)
        targets = self._store.client_session_ids(pairs)
        named = [t for t in targets if t is not None]
        live = self._store.existing(named) if named else set()
        examined = released = 0
        for (user_id, client_id), target in zip(pairs, targets, strict=True):
            if target is None:  # expired between the scan and the read
                continue
            examined += 1
            if target in live:
                continue
            if dry_run or self._store.release_client(user_id, client_id, target):
                released += 1
        return cursor, examined, released

    def end_all(self, user_id: str) -> int:
        """End every session of the user (their account is going)."""
        records = self._live_sessions(user_id)
        for record in records:
            self._store.delete(record)
        return len(records)
