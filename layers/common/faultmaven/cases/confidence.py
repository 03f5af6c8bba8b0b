"""Hypothesis confidence: pure functions, so the rules are tested without a database.

likelihood = clamp(initial + 0.15 × supporting − 0.20 × refuting) × 0.85^turns_without_progress
VALIDATED at ≥ 0.70 with ≥ 2 supporting; REFUTED at ≤ 0.20 with ≥ 2 refuting; RETIRED when
decay has pushed it below 0.30. Refuting weighs more than supporting on purpose: one
contradiction should cost more than one agreeing signal earns.
"""

from __future__ import annotations

from faultmaven.cases.models import HypothesisStatus

SUPPORT_WEIGHT = 0.15
REFUTE_WEIGHT = 0.20
DECAY_PER_TURN = 0.85
VALIDATED_AT = 0.70
REFUTED_AT = 0.20
RETIRED_BELOW = 0.30
MIN_EVIDENCE = 2
_PRECISION = 6  # rounding keeps 0.4 + 2 × 0.15 from landing a hair under 0.70


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def evidence_likelihood(initial: float, supporting: int, refuting: int) -> float:
    return round(
        clamp(clamp(initial) + SUPPORT_WEIGHT * supporting - REFUTE_WEIGHT * refuting),
        _PRECISION,
    )


def decayed(likelihood: float, turns_without_progress: int) -> float:
    return round(clamp(likelihood * DECAY_PER_TURN ** max(0, turns_without_progress)), _PRECISION)


def likelihood(
    initial: float, supporting: int, refuting: int, turns_without_progress: int
) -> float:
    return decayed(evidence_likelihood(initial, supporting, refuting), turns_without_progress)


def status_for(
    current_likelihood: float, supporting: int, refuting: int, turns_without_progress: int
) -> HypothesisStatus:
    if current_likelihood >= VALIDATED_AT and supporting >= MIN_EVIDENCE:
        return HypothesisStatus.VALIDATED
    if current_likelihood <= REFUTED_AT and refuting >= MIN_EVIDENCE:
        return HypothesisStatus.REFUTED
    if turns_without_progress > 0 and current_likelihood < RETIRED_BELOW:
        return HypothesisStatus.RETIRED
    if supporting or refuting or turns_without_progress:
        return HypothesisStatus.ACTIVE
    return HypothesisStatus.CAPTURED


def assess(
    initial: float, supporting: int, refuting: int, turns_without_progress: int
) -> tuple[float, HypothesisStatus]:
    value = likelihood(initial, supporting, refuting, turns_without_progress)
    return value, status_for(value, supporting, refuting, turns_without_progress)
