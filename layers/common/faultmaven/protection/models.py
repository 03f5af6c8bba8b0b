"""Protection's vocabulary: rate-limit windows, reputation levels and what a check decides.

Every limit is a set of sliding windows (a minute, an hour and a short burst window) per
subject: a user, or a client address. A subject's reputation scales its limits, and a
blocked subject is refused outright until its block expires.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BURST_WINDOW_SECONDS_DEFAULT = 10


class ReputationLevel(StrEnum):
    """The storage seed's levels, from most to least trusted."""

    TRUSTED = "trusted"
    NORMAL = "normal"
    SUSPICIOUS = "suspicious"
    RESTRICTED = "restricted"
    BLOCKED = "blocked"


# How much of its configured limits a subject gets at each level. Trusted comes only from
# configuration (`protection_trusted_networks`), never from behaviour: a client cannot
# earn more than the configured limits by being quiet for a while.
LIMIT_SCALE: dict[ReputationLevel, float] = {
    ReputationLevel.TRUSTED: 4.0,
    ReputationLevel.NORMAL: 1.0,
    ReputationLevel.SUSPICIOUS: 0.5,
    ReputationLevel.RESTRICTED: 0.2,
    ReputationLevel.BLOCKED: 0.0,
}


class Scope(StrEnum):
    """Whose budget a window counts: an authenticated user's, or a client address's."""

    USER = "user"
    ADDRESS = "address"


class RouteClass(StrEnum):
    """Groups of routes with limits of their own, on top of the general ones.

    `agent` is for the language-model routes to come (chat turns, investigations,
    reports): each request there costs model tokens, so it gets the strictest budget.
    """

    DEFAULT = "default"
    AUTH = "auth"
    UPLOAD = "upload"
    SEARCH = "search"
    AGENT = "agent"


class RateLimitConfig(BaseModel):
    """One budget: at most `per_minute` requests in any minute, `per_hour` in any hour and
    `burst` in any `burst_window_seconds`, each a sliding window."""

    model_config = ConfigDict(frozen=True)

    per_minute: int = Field(ge=1)
    per_hour: int = Field(ge=1)
    burst: int = Field(ge=1)
    burst_window_seconds: int = Field(default=BURST_WINDOW_SECONDS_DEFAULT, ge=1, le=60)

    def windows(self, prefix: str, scale: float) -> tuple[Window, ...]:
        """This budget's windows, named under `prefix` and scaled for a reputation."""
        return (
            Window(f"{prefix}:b", self.burst_window_seconds, _scaled(self.burst, scale)),
            Window(f"{prefix}:m", 60, _scaled(self.per_minute, scale)),
            Window(f"{prefix}:h", 3600, _scaled(self.per_hour, scale)),
        )


def _scaled(limit: int, scale: float) -> int:
    return max(1, math.floor(limit * scale))


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window: at most `limit` requests in any `seconds`."""

    name: str
    seconds: int
    limit: int


@dataclass(frozen=True, slots=True)
class ReputationPolicy:
    """How abuse turns into a level and how fast it is forgiven.

    Each refused or client-error request adds points to a subject's score; the score
    halves every `half_life_seconds`. Crossing `blocked_score` blocks the subject for
    `block_seconds`, doubled at each new block while the score has not recovered, up to
    `max_block_seconds`.
    """

    enabled: bool
    half_life_seconds: int
    suspicious_score: float
    restricted_score: float
    blocked_score: float
    block_seconds: int
    max_block_seconds: int
    throttle_points: float = 1.0
    client_error_points: float = 1.0

    def level_for(self, score: float) -> ReputationLevel:
        if score >= self.restricted_score:
            return ReputationLevel.RESTRICTED
        if score >= self.suspicious_score:
            return ReputationLevel.SUSPICIOUS
        return ReputationLevel.NORMAL

    def decayed(self, score: float, since_ms: int, now_ms: int) -> float:
        if score <= 0:
            return 0.0
        elapsed = max(0, now_ms - since_ms)
        return float(score * 0.5 ** (elapsed / (self.half_life_seconds * 1000)))

    def block_ms(self, blocks_so_far: int) -> int:
        seconds = min(self.max_block_seconds, self.block_seconds * 2 ** min(blocks_so_far, 20))
        return int(seconds * 1000)


@dataclass(frozen=True, slots=True)
class Reputation:
    """A subject's standing at one instant."""

    level: ReputationLevel
    score: float
    blocked_for_ms: int = 0


@dataclass(frozen=True, slots=True)
class WindowAnswer:
    """What a counter store decided for one subject's windows."""

    allowed: bool
    level: ReputationLevel
    previous_level: ReputationLevel
    retry_after_ms: int = 0
    limit: int = 0
    remaining: int = 0
    reset_ms: int = 0
    denied_window: str | None = None


@dataclass(frozen=True, slots=True)
class LevelChange:
    level: ReputationLevel
    previous_level: ReputationLevel

    @property
    def changed(self) -> bool:
        return self.level is not self.previous_level


@dataclass(frozen=True, slots=True)
class ProtectionResult:
    """The decision on one request, for one subject or combined over several.

    `limit`/`remaining`/`reset_seconds` describe the tightest window, for the
    `RateLimit-*` headers; `retry_after_seconds` is set when the request is refused.
    """

    allowed: bool
    scope: Scope | None = None
    route_class: RouteClass = RouteClass.DEFAULT
    level: ReputationLevel = ReputationLevel.NORMAL
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: int | None = None
    retry_after_seconds: int | None = None
    degraded: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.level is ReputationLevel.BLOCKED and not self.allowed

    def tighter(self, other: ProtectionResult) -> ProtectionResult:
        """The result a client should see of two checks on the same request: a refusal
        before an admission, otherwise the one with less room left."""
        if self.allowed != other.allowed:
            return other if self.allowed else self
        if not self.allowed:
            longer = (self.retry_after_seconds or 0) >= (other.retry_after_seconds or 0)
            return self if longer else other
        if other.remaining is None:
            return self
        if self.remaining is None or other.remaining < self.remaining:
            return other
        return self


class EventKind(StrEnum):
    """What the archive records, for forensics: refusals by a limit, refusals of a
    blocked subject, and every change of a subject's level."""

    THROTTLED = "throttled"
    BLOCKED = "blocked"
    LEVEL_CHANGED = "level_changed"


class ProtectionEvent(BaseModel):
    """One archived row: the first occurrence of an event and how often it repeated
    within one flush (so a storm of refusals is a handful of rows, not millions)."""

    event_id: str
    occurred_at: datetime
    last_at: datetime
    kind: EventKind
    scope: Scope
    subject: str
    route_class: RouteClass | None = None
    level: ReputationLevel
    previous_level: ReputationLevel | None = None
    count: int = Field(ge=1)
    details: dict[str, Any] = Field(default_factory=dict)
