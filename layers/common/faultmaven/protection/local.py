"""Per-process counters: the same sliding windows and reputation as the Redis script, in
memory, for when Redis cannot answer.

Limits then hold per process rather than across all of them (each Lambda instance or
worker enforces the full budget on its own), which is the "open but bounded" fallback:
requests keep being served, and no client gets more than the budget times the number of
processes, themselves capped by API Gateway's throttling and the function's
concurrency. Memory is bounded too: the least recently seen subjects are forgotten past
`max_subjects`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from faultmaven.protection.models import (
    LevelChange,
    Reputation,
    ReputationLevel,
    ReputationPolicy,
    Window,
    WindowAnswer,
)

# Float error must not refuse a client that waited exactly its Retry-After.
_EPSILON = 1e-9
_SCALED_LEVELS = (ReputationLevel.NORMAL, ReputationLevel.SUSPICIOUS, ReputationLevel.RESTRICTED)


@dataclass(slots=True)
class _Bucket:
    bucket: int
    current: int
    previous: int


@dataclass(slots=True)
class _Subject:
    windows: dict[str, _Bucket] = field(default_factory=dict)
    score: float = 0.0
    score_at: int = 0
    blocked_until: int = 0
    blocks: int = 0
    level: ReputationLevel = ReputationLevel.NORMAL


class LocalCounters:
    def __init__(self, *, max_subjects: int) -> None:
        self._subjects: OrderedDict[str, _Subject] = OrderedDict()
        self._max = max_subjects
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._subjects)

    def _get(self, subject: str) -> _Subject:
        state = self._subjects.get(subject)
        if state is None:
            state = self._subjects[subject] = _Subject()
            while len(self._subjects) > self._max:
                self._subjects.popitem(last=False)
        else:
            self._subjects.move_to_end(subject)
        return state

    def remember(
        self, subject: str, level: ReputationLevel, blocked_for_ms: int, now_ms: int
    ) -> None:
        """Carry a level learnt from Redis, so a subject blocked there stays blocked here
        while Redis is away."""
        with self._lock:
            state = self._get(subject)
            if blocked_for_ms > 0:
                state.blocked_until = max(state.blocked_until, now_ms + blocked_for_ms)
            state.level = level

    def hit(
        self,
        subject: str,
        now_ms: int,
        windows: Sequence[Window],
        policy: ReputationPolicy,
        *,
        scales: Sequence[float],
        cost: int = 1,
    ) -> WindowAnswer:
        with self._lock:
            state = self._get(subject)
            previous = state.level
            _decay(state, policy, now_ms)
            level = _level_of(state, policy, now_ms)
            if level is ReputationLevel.BLOCKED:
                blocked_ms = state.blocked_until - now_ms
                state.level = level
                return WindowAnswer(False, level, previous, blocked_ms, 0, 0, blocked_ms, "blocked")
            scale = dict(zip(_SCALED_LEVELS, scales, strict=True)).get(level, 1.0)
            retry, denied = 0, None
            best: tuple[int, int, int] | None = None  # remaining, limit, reset
            updates: list[tuple[str, _Bucket]] = []
            for window in windows:
                size = window.seconds * 1000
                limit = max(1, math.floor(window.limit * scale))
                bucket = now_ms // size
                stored = state.windows.get(window.name)
                current = previous_count = 0
                if stored is not None and stored.bucket == bucket:
                    current, previous_count = stored.current, stored.previous
                elif stored is not None and stored.bucket == bucket - 1:
                    previous_count = stored.current
                elapsed = now_ms - bucket * size
                estimate = previous_count * (1 - elapsed / size) + current
                if estimate + cost > limit + _EPSILON:
                    wait: float
                    if current + cost > limit:
                        wait = (bucket + 1) * size - now_ms + size * (1 - (limit - cost) / current)
                    else:
                        wait = size * (1 - (limit - cost - current) / previous_count) - elapsed
                    wait_ms = max(1, math.ceil(wait))
                    if wait_ms > retry:
                        retry, denied = wait_ms, window.name
                    continue
                updates.append((window.name, _Bucket(bucket, current + cost, previous_count)))
                remaining = math.floor(limit - estimate - cost)
                if best is None or remaining < best[0]:
                    best = (remaining, limit, (bucket + 1) * size - now_ms)
            if denied is not None:
                _add_points(state, policy, policy.throttle_points, now_ms)
                level = state.level = _level_of(state, policy, now_ms)
                if level is ReputationLevel.BLOCKED:
                    retry = max(retry, state.blocked_until - now_ms)
                return WindowAnswer(False, level, previous, retry, 0, 0, retry, denied)
            state.windows.update(updates)
            state.level = level
            remaining, limit, reset = best or (0, 0, 0)
            return WindowAnswer(True, level, previous, 0, limit, max(0, remaining), reset)

    def penalize(
        self, subject: str, now_ms: int, points: float, policy: ReputationPolicy
    ) -> LevelChange:
        with self._lock:
            state = self._get(subject)
            previous = state.level
            _decay(state, policy, now_ms)
            _add_points(state, policy, points, now_ms)
            state.level = _level_of(state, policy, now_ms)
            return LevelChange(state.level, previous)

    def reconnect(self) -> None:
        """Nothing to reconnect: the counters are this process's memory."""

    def reputation(self, subject: str, now_ms: int, policy: ReputationPolicy) -> Reputation:
        with self._lock:
            state = self._subjects.get(subject) or _Subject()
            score = policy.decayed(state.score, state.score_at, now_ms)
            blocked_for = max(0, state.blocked_until - now_ms)
            level = ReputationLevel.BLOCKED if blocked_for else policy.level_for(score)
            return Reputation(level, score, blocked_for)


def _decay(state: _Subject, policy: ReputationPolicy, now_ms: int) -> None:
    if policy.enabled:
        state.score = policy.decayed(state.score, state.score_at, now_ms)
        state.score_at = now_ms


def _level_of(state: _Subject, policy: ReputationPolicy, now_ms: int) -> ReputationLevel:
    if state.blocked_until > now_ms:
        return ReputationLevel.BLOCKED
    if not policy.enabled:
        return ReputationLevel.NORMAL
    level = policy.level_for(state.score)
    if level is ReputationLevel.NORMAL:
        state.blocks = 0
    return level


def _add_points(state: _Subject, policy: ReputationPolicy, points: float, now_ms: int) -> None:
    if not policy.enabled or state.blocked_until > now_ms:
        return
    state.score += points
    if state.score >= policy.blocked_score:
        state.blocked_until = now_ms + policy.block_ms(state.blocks)
        state.blocks += 1
