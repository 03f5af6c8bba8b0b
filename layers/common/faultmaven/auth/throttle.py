"""Login throttling in Redis, so password guessing is slow even across Lambda instances,
without letting a stranger lock someone else out.

Failures are counted per *account and client address* pair: after a few free failures,
each further one makes that pair wait twice as long as the last (2 s, 4 s, … up to
15 minutes). The owner, logging in from their own address, is never held back by what
someone else does from another. Each address also has a fixed budget of failures across
all accounts (spraying one password over many accounts). Accounts are counted by user
id once known, so guessing through the email and the username of one account shares
one budget.
"""

from __future__ import annotations

import hashlib

from faultmaven.core.errors import RateLimitedError
from faultmaven.core.ports import KeyValueStore

FREE_FAILURES_PER_PAIR = 10
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 15 * 60
# How long a pair's failures are remembered: long enough that waiting out one back-off
# does not reset the next, so the delays keep doubling.
PAIR_MEMORY_SECONDS = 24 * 3600
ADDRESS_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ADDRESS = 50


def account_key(user_id: str | None, identifier: str) -> str:
    """What to count failures against: the account, or the name tried when no account
    has it (hashed: it may be an email address, which has no business in Redis)."""
    subject = user_id or "unknown:" + identifier.lower()
    return "login_failures:account:" + hashlib.sha256(subject.encode()).hexdigest()[:32]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _pair_keys(account: str, address: str | None) -> tuple[str, str]:
    pair = _digest(account, address or "")
    return "login_failures:pair:" + pair, "login_backoff:pair:" + pair


def _address_key(address: str) -> str:
    return "login_failures:address:" + _digest(address)


def backoff_seconds(failures: int) -> int:
    """The wait after the `failures`-th failure of one pair (0 while still free)."""
    if failures < FREE_FAILURES_PER_PAIR:
        return 0
    exponent = min(failures - FREE_FAILURES_PER_PAIR, 20)  # 2**20 s is far past the cap
    return int(min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**exponent))


def _refuse(retry_after: int) -> RateLimitedError:
    retry_after = max(1, retry_after)
    return RateLimitedError(
        "Too many failed logins; try again later",
        details={"retry_after_seconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


class LoginThrottle:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def check(self, account: str, address: str | None) -> None:
        """Refuse before the password is verified while this pair waits out its back-off
        or the address has spent its budget."""
        _, lock = _pair_keys(account, address)
        keys = [lock]
        if address:
            keys.append(_address_key(address))
        values = self._kv.get_many(keys)
        if values[0] is not None:
            raise _refuse(self._kv.ttl(lock))
        if address and values[1] is not None and int(values[1]) >= MAX_FAILURES_PER_ADDRESS:
            raise _refuse(self._kv.ttl(keys[1]))

    def failed(self, account: str, address: str | None) -> None:
        counter, lock = _pair_keys(account, address)
        wait = backoff_seconds(self._kv.increment(counter, PAIR_MEMORY_SECONDS))
        if wait:
            self._kv.put(lock, "1", wait)
        if address:
            self._kv.increment(_address_key(address), ADDRESS_WINDOW_SECONDS)

    def succeeded(self, account: str, address: str | None) -> None:
        """The right password from this address: its pair starts afresh (other pairs
        of the account keep their count)."""
        self._kv.delete(*_pair_keys(account, address))
