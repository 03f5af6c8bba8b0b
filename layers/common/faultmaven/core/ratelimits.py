"""The value types of the rate-limit counter port (`core.ports.Counters`): sliding
windows, reputation levels and policy, and what a counter store answers. They live in
core because adapters implement the port and must not import a domain; the protection
domain (`faultmaven.protection`) builds its decisions on them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
