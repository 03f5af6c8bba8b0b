"""`Idempotency-Key`: a client that retries a POST (a timeout, a lost reply) with the same
key gets the first reply again instead of a second case or a second chat turn.

Replies are kept in Redis for a day, scoped to the caller and the route. A retry that
arrives while the first request still runs gets 409 (the client retries later); the same
key with a different request is a client bug and gets 422. A request that failed frees
its key, so a retry after an error runs again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from faultmaven.core.errors import ConflictError, ValidationFailedError
from faultmaven.core.ports import KeyValueStore

REPLAY_TTL_SECONDS = 86_400
# Longer than any request may run (API Gateway ends one at 29 s).
PENDING_TTL_SECONDS = 120
REPLAYED_HEADER = "X-Idempotency-Replayed"


@dataclass(frozen=True)
class StoredReply:
    status_code: int
    body: str
    headers: dict[str, str]


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


class Idempotency:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    @staticmethod
    def _key(scope: str, key: str) -> str:
        return "idem:" + fingerprint(scope, key)

    def begin(self, scope: str, key: str, request: str) -> StoredReply | None:
        """Claim `key` for this request (None: go ahead, then `complete` or `abandon`),
        or the reply to replay."""
        entry = self._key(scope, key)
        claim = json.dumps({"state": "pending", "request": request})
        if self._kv.put(entry, claim, PENDING_TTL_SECONDS, only_if_absent=True):
            return None
        raw = self._kv.get(entry)
        if raw is None:  # expired between the two calls: claim it now
            return self.begin(scope, key, request)
        stored = json.loads(raw)
        if stored.get("request") != request:
            raise ValidationFailedError(
                "This Idempotency-Key was used for a different request",
                error_code="IDEMPOTENCY_KEY_REUSED",
            )
        if stored.get("state") != "done":
            raise ConflictError(
                "A request with this Idempotency-Key is still running; retry shortly",
                error_code="IDEMPOTENCY_IN_PROGRESS",
                headers={"Retry-After": "2"},
            )
        return StoredReply(
            status_code=int(stored["status_code"]),
            body=str(stored["body"]),
            headers={str(k): str(v) for k, v in stored.get("headers", {}).items()},
        )

    def complete(self, scope: str, key: str, request: str, reply: StoredReply) -> None:
        self._kv.put(
            self._key(scope, key),
            json.dumps(
                {
                    "state": "done",
                    "request": request,
                    "status_code": reply.status_code,
                    "body": reply.body,
                    "headers": reply.headers,
                }
            ),
            REPLAY_TTL_SECONDS,
        )

    def abandon(self, scope: str, key: str) -> None:
        self._kv.delete(self._key(scope, key))
