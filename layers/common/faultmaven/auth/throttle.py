"""Login throttling: a fixed window of failed attempts per account and per client
address, in Redis, so password guessing is slow even across Lambda instances.

Accounts are counted by user id once known, so guessing through the email and the
username of one account shares one budget.
"""

from __future__ import annotations

import hashlib

from faultmaven.core.errors import RateLimitedError
from faultmaven.core.ports import KeyValueStore

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50


def account_key(user_id: str | None, identifier: str) -> str:
    """What to count failures against: the account, or the name tried when no account
    has it (hashed: it may be an email address, which has no business in Redis)."""
    subject = user_id or "unknown:" + identifier.lower()
    return "login_failures:account:" + hashlib.sha256(subject.encode()).hexdigest()[:32]


def _address_key(address: str) -> str:
    return "login_failures:address:" + hashlib.sha256(address.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def check(self, account: str, address: str | None) -> None:
        """Refuse before the password is verified once a limit is reached."""
        keys = [(account, MAX_FAILURES_PER_ACCOUNT)]
        if address:
            keys.append((_address_key(address), MAX_FAILURES_PER_ADDRESS))
        counts = self._kv.get_many([key for key, _ in keys])
        for (key, limit), count in zip(keys, counts, strict=True):
            if count is not None and int(count) >= limit:
                retry_after = max(1, self._kv.ttl(key))
                raise RateLimitedError(
                    "Too many failed logins; try again later",
                    details={"retry_after_seconds": retry_after},
                    headers={"Retry-After": str(retry_after)},
                )

    def failed(self, account: str, address: str | None) -> None:
        self._kv.increment(account, WINDOW_SECONDS)
        if address:
            self._kv.increment(_address_key(address), WINDOW_SECONDS)

    def succeeded(self, account: str) -> None:
        self._kv.delete(account)
