"""Session keys in Redis.

`session:{id}` holds the record, `session_client:{user_id}:{client_id}` points a client
at its session, and `user_sessions:{user_id}` indexes a user's sessions. All three expire,
so an abandoned session disappears without a sweeper.
"""

from __future__ import annotations

from faultmaven.core.ports import KeyValueStore
from faultmaven.sessions.models import SessionRecord


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def client_key(user_id: str, client_id: str) -> str:
    return f"session_client:{user_id}:{client_id}"


def user_index_key(user_id: str) -> str:
    return f"user_sessions:{user_id}"


class SessionStore:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def get(self, session_id: str) -> SessionRecord | None:
        raw = self._kv.get(session_key(session_id))
        return None if raw is None else SessionRecord.model_validate_json(raw)

    def get_many(self, session_ids: list[str]) -> list[SessionRecord | None]:
        raws = self._kv.get_many([session_key(s) for s in session_ids])
        return [None if raw is None else SessionRecord.model_validate_json(raw) for raw in raws]

    def client_session_id(self, user_id: str, client_id: str) -> str | None:
        return self._kv.get(client_key(user_id, client_id))

    def add(self, record: SessionRecord, ttl: int) -> None:
        """Store a new session and index it under its user."""
        self._kv.put(session_key(record.session_id), record.model_dump_json(), ttl)
        self._kv.set_add(user_index_key(record.user_id), record.session_id, ttl)

    def claim_client(self, user_id: str, client_id: str, session_id: str, ttl: int) -> str | None:
        """Point the client at `session_id` unless another session holds it; return that
        other session's id when one does."""
        key = client_key(user_id, client_id)
        if self._kv.put(key, session_id, ttl, only_if_absent=True):
            return None
        return self._kv.get(key)

    def point_client(self, user_id: str, client_id: str, session_id: str, ttl: int) -> None:
        self._kv.put(client_key(user_id, client_id), session_id, ttl)

    def refresh(self, record: SessionRecord, ttl: int) -> bool:
        """Rewrite a session with a new expiry, only while it still exists: a heartbeat
        racing a delete must not bring the session back. False when it is gone."""
        if not self._kv.put(
            session_key(record.session_id), record.model_dump_json(), ttl, only_if_present=True
        ):
            return False
        if record.client_id is not None:
            key = client_key(record.user_id, record.client_id)
            if self._kv.get(key) == record.session_id:
                self._kv.expire(key, ttl)
        self._kv.set_add(user_index_key(record.user_id), record.session_id, ttl)
        return True

    def user_session_ids(self, user_id: str) -> set[str]:
        return self._kv.set_members(user_index_key(user_id))

    def forget(self, user_id: str, *session_ids: str) -> None:
        self._kv.set_remove(user_index_key(user_id), *session_ids)

    def delete(self, record: SessionRecord) -> None:
        keys = [session_key(record.session_id)]
        if record.client_id is not None and (
            self.client_session_id(record.user_id, record.client_id) == record.session_id
        ):
            keys.append(client_key(record.user_id, record.client_id))
        self._kv.delete(*keys)
        self.forget(record.user_id, record.session_id)
