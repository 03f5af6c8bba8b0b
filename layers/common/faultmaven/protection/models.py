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

from faultmaven.core.ratelimits import (
    LIMIT_SCALE,
    LevelChange,
    Reputation,
    ReputationLevel,
    ReputationPolicy,
    Window,
    WindowAnswer,
)

__all__ = [
    "LIMIT_SCALE",
    "EventKind",
    "LevelChange",
    "ProtectionEvent",
    "ProtectionResult",
    "RateLimitConfig",
    "Reputation",
    "ReputationLevel",
    "ReputationPolicy",
    "RouteClass",
    "Scope",
    "Window",
    "WindowAnswer",
]

BURST_WINDOW_SECONDS_DEFAULT = 10


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
