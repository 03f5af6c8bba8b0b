"""Rate limits and reputation: decide whether a request may go on, and learn from how
clients behave.

Every request is counted against its client address (general budget, plus the auth
budget on login, registration and refresh); an authenticated one also against its user
(general budget, plus the budget of an expensive route class). A subject's reputation
scales its budgets down as it misbehaves (client errors, requests refused by a limit)
and recovers as its score decays; past the blocking score it is refused outright for a
while.

The counters live in Redis so limits hold across Lambda instances. When Redis cannot
answer, the service switches to per-process counters for `retry_seconds` before trying
Redis again: requests keep flowing, bounded per process, and no request waits on a
Redis that is down for more than the counter client's short timeout.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from faultmaven.core.logging import logger
from faultmaven.protection.events import EventRecorder
from faultmaven.protection.local import LocalCounters
from faultmaven.protection.models import (
    LIMIT_SCALE,
    EventKind,
    ProtectionResult,
    RateLimitConfig,
    Reputation,
    ReputationLevel,
    ReputationPolicy,
    RouteClass,
    Scope,
    Window,
    WindowAnswer,
)
from faultmaven.protection.ports import Counters, CountersUnavailableError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_SCALED = (ReputationLevel.NORMAL, ReputationLevel.SUSPICIOUS, ReputationLevel.RESTRICTED)
_NORMAL_SCALES = tuple(LIMIT_SCALE[level] for level in _SCALED)
_TRUSTED_SCALES = (LIMIT_SCALE[ReputationLevel.TRUSTED],) * 3
# Budgets on top of the general one, by scope.
_ADDRESS_CLASSES = frozenset({RouteClass.AUTH})
_USER_CLASSES = frozenset({RouteClass.UPLOAD, RouteClass.SEARCH, RouteClass.AGENT})

Budgets = Mapping[tuple[Scope, RouteClass], RateLimitConfig]


class ProtectionService:
    def __init__(
        self,
        counters: Counters,
        fallback: LocalCounters,
        events: EventRecorder,
        *,
        budgets: Budgets,
        policy: ReputationPolicy,
        trusted_networks: Iterable[str] = (),
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._fallback = fallback
        self.events = events
        self._budgets = dict(budgets)
        self.policy = policy
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_networks)
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._down_until = 0.0
        self._down_lock = threading.Lock()

    # -- decisions -----------------------------------------------------------------------
    def admit_address(self, address: str | None, route_class: RouteClass) -> ProtectionResult:
        """Count a request against its client address."""
        if not address:
            # No peer address at all (a test transport): nothing to count it against.
            return ProtectionResult(allowed=True, scope=Scope.ADDRESS, route_class=route_class)
        trusted = self.is_trusted(address)
        return self._admit(
            Scope.ADDRESS,
            address,
            _address_key(address),
            route_class,
            self._windows(Scope.ADDRESS, route_class, _ADDRESS_CLASSES),
            trusted=trusted,
        )

    def admit_user(self, user_id: str, route_class: RouteClass) -> ProtectionResult:
        """Count an authenticated request against its user."""
        return self._admit(
            Scope.USER,
            user_id,
            _user_key(user_id),
            route_class,
            self._windows(Scope.USER, route_class, _USER_CLASSES),
            trusted=False,
        )

    def observe(self, *, address: str | None, user_id: str | None, status: int) -> None:
        """Learn from an answer already sent: a client error counts against the subjects
        that made the request."""
        if not self.policy.enabled or not 400 <= status < 500:
            return
        subjects: list[tuple[Scope, str, str]] = []
        if address and not self.is_trusted(address):
            subjects.append((Scope.ADDRESS, address, _address_key(address)))
        if user_id:
            subjects.append((Scope.USER, user_id, _user_key(user_id)))
        for scope, subject, key in subjects:
            now_ms = self._now_ms()
            points = self.policy.client_error_points
            counters, degraded = self._counters_now()
            try:
                change = counters.penalize(key, now_ms, points, self.policy)
            except CountersUnavailableError as exc:
                self._mark_down(exc)
                change = self._fallback.penalize(key, now_ms, points, self.policy)
            if change.changed:
                self.events.record(
                    EventKind.LEVEL_CHANGED,
                    scope,
                    subject,
                    level=change.level,
                    previous_level=change.previous_level,
                    details={"reason": "client_error", "status": status, "degraded": degraded},
                )

    def reputation(self, scope: Scope, subject: str) -> Reputation:
        """A subject's current standing (for forensics and the benchmarks)."""
        if scope is Scope.ADDRESS and self.is_trusted(subject):
            return Reputation(ReputationLevel.TRUSTED, 0.0)
        key = _address_key(subject) if scope is Scope.ADDRESS else _user_key(subject)
        now_ms = self._now_ms()
        counters, _ = self._counters_now()
        try:
            return counters.reputation(key, now_ms, self.policy)
        except CountersUnavailableError as exc:
            self._mark_down(exc)
            return self._fallback.reputation(key, now_ms, self.policy)

    def is_trusted(self, address: str) -> bool:
        if not self._trusted:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    @property
    def degraded(self) -> bool:
        """Whether the per-process counters are standing in for Redis right now."""
        return self._clock() < self._down_until

    def reconnect(self) -> None:
        """After a snapshot restore: fresh Redis connections, and Redis tried at once."""
        self._counters.reconnect()
        self._down_until = 0.0

    def close(self) -> None:
        self.events.close()

    # -- internals -----------------------------------------------------------------------
    def _windows(
        self, scope: Scope, route_class: RouteClass, classes: frozenset[RouteClass]
    ) -> tuple[Window, ...]:
        windows = self._budgets[(scope, RouteClass.DEFAULT)].windows(RouteClass.DEFAULT, 1.0)
        if route_class in classes:
            windows += self._budgets[(scope, route_class)].windows(route_class, 1.0)
        return windows

    def _admit(
        self,
        scope: Scope,
        subject: str,
        key: str,
        route_class: RouteClass,
        windows: Sequence[Window],
        *,
        trusted: bool,
    ) -> ProtectionResult:
        policy = self.policy
        scales = _TRUSTED_SCALES if trusted else _NORMAL_SCALES
        if trusted:
            policy = _without_reputation(policy)
        now_ms = self._now_ms()
        counters, degraded = self._counters_now()
        try:
            answer = counters.hit(key, now_ms, windows, policy, scales=scales)
        except CountersUnavailableError as exc:
            self._mark_down(exc)
            degraded = True
            answer = self._fallback.hit(key, now_ms, windows, policy, scales=scales)
        else:
            if not degraded and answer.level is not ReputationLevel.NORMAL:
                self._fallback.remember(key, answer.level, _blocked_for(answer), now_ms)
        level = ReputationLevel.TRUSTED if trusted else answer.level
        self._record(scope, subject, route_class, answer, degraded)
        return _result(scope, route_class, level, answer, degraded)

    def _record(
        self,
        scope: Scope,
        subject: str,
        route_class: RouteClass,
        answer: WindowAnswer,
        degraded: bool,
    ) -> None:
        if answer.level is not answer.previous_level:
            self.events.record(
                EventKind.LEVEL_CHANGED,
                scope,
                subject,
                level=answer.level,
                previous_level=answer.previous_level,
                details={"reason": "throttled", "degraded": degraded},
            )
        if answer.allowed:
            return
        kind = EventKind.BLOCKED if answer.level is ReputationLevel.BLOCKED else EventKind.THROTTLED
        self.events.record(
            kind,
            scope,
            subject,
            level=answer.level,
            route_class=route_class,
            details={"window": answer.denied_window, "degraded": degraded},
        )

    def _counters_now(self) -> tuple[Counters, bool]:
        if self._clock() < self._down_until:
            return self._fallback, True
        return self._counters, False

    def _mark_down(self, exc: CountersUnavailableError) -> None:
        with self._down_lock:
            was_up = self._clock() >= self._down_until
            self._down_until = self._clock() + self._retry_seconds
        if was_up:
            logger.warning(
                "rate-limit store unavailable; per-process limits for now",
                extra={"error_type": str(exc), "retry_seconds": self._retry_seconds},
            )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _result(
    scope: Scope,
    route_class: RouteClass,
    level: ReputationLevel,
    answer: WindowAnswer,
    degraded: bool,
) -> ProtectionResult:
    if answer.allowed:
        return ProtectionResult(
            allowed=True,
            scope=scope,
            route_class=route_class,
            level=level,
            limit=answer.limit,
            remaining=answer.remaining,
            reset_seconds=_seconds(answer.reset_ms),
            degraded=degraded,
        )
    retry = _seconds(answer.retry_after_ms)
    return ProtectionResult(
        allowed=False,
        scope=scope,
        route_class=route_class,
        level=level,
        limit=answer.limit or None,
        remaining=0,
        reset_seconds=retry,
        retry_after_seconds=retry,
        degraded=degraded,
        details={"window": answer.denied_window},
    )


def _seconds(milliseconds: int) -> int:
    return max(1, math.ceil(milliseconds / 1000))


def _blocked_for(answer: WindowAnswer) -> int:
    return answer.retry_after_ms if answer.level is ReputationLevel.BLOCKED else 0


def _without_reputation(policy: ReputationPolicy) -> ReputationPolicy:
    return replace(policy, enabled=False)


def _address_key(address: str) -> str:
    # Hashed: an address has no business sitting in clear in a cache.
    return "address:" + hashlib.sha256(address.encode()).hexdigest()[:32]


def _user_key(user_id: str) -> str:
    return "user:" + user_id


def expire_events(
    session: Session, cutoff: datetime, *, after: str | None, limit: int, dry_run: bool
) -> tuple[list[str], int]:
    """One retention batch of the event archive: the ids examined (key order, after
    `after`) and how many were deleted (or would be, in a dry run)."""
    from faultmaven.protection import store  # SQLAlchemy only where the archive is used

    ids = store.created_before(session, cutoff, after=after, limit=limit)
    if dry_run or not ids:
        return ids, len(ids)
    return ids, store.delete_created_before(session, ids, cutoff)
