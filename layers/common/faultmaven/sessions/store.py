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


_CLIENT_PREFIX = "session_client:"
_USER_INDEX_PREFIX = "user_sessions:"


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

    # -- sweeping (retention): the indexes outlive the sessions they point at ------------
    def scan_user_indexes(self, cursor: int, count: int) -> tuple[int, list[str]]:
        """One step of a walk over the users that have a session index: their ids and
        the cursor to continue from (0 when done)."""
        cursor, keys = self._kv.scan(f"{_USER_INDEX_PREFIX}*", cursor=cursor, count=count)
        return cursor, [key.removeprefix(_USER_INDEX_PREFIX) for key in keys]

    def scan_client_pointers(self, cursor: int, count: int) -> tuple[int, list[tuple[str, str]]]:
        """One step of a walk over the client pointers: (user id, client id) pairs."""
        cursor, keys = self._kv.scan(f"{_CLIENT_PREFIX}*", cursor=cursor, count=count)
        pairs = []
        for key in keys:
            # User ids never hold a colon; client ids may.
            user_id, colon, client_id = key.removeprefix(_CLIENT_PREFIX).partition(":")
            if colon:
                pairs.append((user_id, client_id))
        return cursor, pairs

    def client_session_ids(self, pointers: list[tuple[str, str]]) -> list[str | None]:
        return self._kv.get_many([client_key(user, client) for user, client in pointers])

    def existing(self, session_ids: list[str]) -> set[str]:
        """Those of `session_ids` whose record is still there (not expired or ended)."""
        raws = self._kv.get_many([session_key(s) for s in session_ids])
        return {sid for sid, raw in zip(session_ids, raws, strict=True) if raw is not None}

    def release_client(self, user_id: str, client_id: str, session_id: str) -> bool:
        """Drop a client's pointer only while it still names `session_id`: a create for
        that client may have re-pointed it since it was read."""
        return self._kv.delete_if_value(client_key(user_id, client_id), session_id)
