"""Login throttling: a fixed window of failed attempts per account and per client
address, in Redis, so password guessing is slow even across Lambda instances."""

from __future__ import annotations

import hashlib

from faultmaven.core.errors import RateLimitedError
from faultmaven.core.ports import KeyValueStore

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50


def _key(kind: str, value: str) -> str:
    # Hashed: the identifier may be an email address, which has no business in Redis.
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]
    return f"login_failures:{kind}:{digest}"


class LoginThrottle:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def check(self, identifier: str, address: str | None) -> None:
        """Refuse before the password is even verified once a limit is reached."""
        keys = [(_key("account", identifier), MAX_FAILURES_PER_ACCOUNT)]
        if address:
            keys.append((_key("address", address), MAX_FAILURES_PER_ADDRESS))
        counts = self._kv.get_many([key for key, _ in keys])
        for (key, limit), count in zip(keys, counts, strict=True):
            if count is not None and int(count) >= limit:
                retry_after = max(1, self._kv.ttl(key))
                raise RateLimitedError(
                    "Too many failed logins; try again later",
                    details={"retry_after_seconds": retry_after},
                    headers={"Retry-After": str(retry_after)},
                )

    def failed(self, identifier: str, address: str | None) -> None:
        self._kv.increment(_key("account", identifier), WINDOW_SECONDS)
        if address:
            self._kv.increment(_key("address", address), WINDOW_SECONDS)

    def succeeded(self, identifier: str) -> None:
        self._kv.delete(_key("account", identifier))
