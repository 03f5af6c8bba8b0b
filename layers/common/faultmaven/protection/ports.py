"""What the protection service needs from a counter store (Redis across processes, or
the per-process fallback). Each call touches one subject, so a Redis implementation can
keep it to one key and stay valid in cluster mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faultmaven.protection.models import (
    LevelChange,
    Reputation,
    ReputationPolicy,
    Window,
    WindowAnswer,
)


class CountersUnavailableError(RuntimeError):
    """The shared counter store cannot answer (down, frozen, refusing): the service
    falls back to its per-process counters for a while."""


class Counters(Protocol):
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
        """Count one request against every window of `subject` if all have room, or
        count nothing and say which refused and for how long. `windows` carry the
        configured limits; `scales` (for normal, suspicious, restricted) scale them by
        the subject's current level, which the store reads in the same step. A refusal
        adds the policy's throttle points to the subject's score."""
        ...

    def penalize(
        self, subject: str, now_ms: int, points: float, policy: ReputationPolicy
    ) -> LevelChange:
        """Add points to the subject's score (a client error) and return its level
        before and after."""
        ...

    def reputation(self, subject: str, now_ms: int, policy: ReputationPolicy) -> Reputation: ...
