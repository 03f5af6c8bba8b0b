"""When to try a provider again, and when to stop.

Exponential backoff with full jitter (AWS's recommendation: spreads a burst of clients
out instead of having them retry in lockstep), never shorter than the provider's own
`retry-after`, and never past the caller's deadline: an API request has ≈ 25 s in all,
so a wait that would end after it is not taken and the next provider (or the 503) comes
sooner.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    """An absolute point on the monotonic clock by which the caller needs an answer."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def within(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_seconds: float = 0.5
    max_seconds: float = 8.0
    # The shortest useful attempt: below it, starting another call is pointless.
    min_attempt_seconds: float = 1.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** (attempt - 1)))
        backoff = rng.uniform(0, ceiling)
        return max(backoff, retry_after or 0.0)
