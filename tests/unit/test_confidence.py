"""The hypothesis confidence rules, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultmaven.cases import confidence
from faultmaven.cases.models import HypothesisStatus as S

likelihoods = st.floats(min_value=0, max_value=1, allow_nan=False)
counts = st.integers(min_value=0, max_value=30)
turns = st.integers(min_value=0, max_value=50)


@pytest.mark.parametrize(
    ("initial", "supporting", "refuting", "expected"),
    [
        (0.5, 0, 0, 0.5),
        (0.5, 1, 0, 0.65),
        (0.5, 0, 1, 0.3),
        (0.4, 2, 1, 0.5),
        (0.9, 3, 0, 1.0),  # clamped
        (0.1, 0, 3, 0.0),  # clamped
    ],
)
def test_evidence_moves_likelihood_by_fixed_steps(
    initial: float, supporting: int, refuting: int, expected: float
) -> None:
    assert confidence.evidence_likelihood(initial, supporting, refuting) == pytest.approx(expected)


def test_decay_per_turn_without_progress() -> None:
    assert confidence.decayed(0.8, 0) == 0.8
    assert confidence.decayed(0.8, 1) == pytest.approx(0.68)
    assert confidence.decayed(0.8, 3) == pytest.approx(0.8 * 0.85**3)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ((0.4, 2, 0, 0), S.VALIDATED),  # 0.70 exactly, two supporting
        ((0.6, 1, 0, 0), S.ACTIVE),  # 0.75 but only one supporting item
        ((0.6, 2, 0, 1), S.VALIDATED),  # 0.9 × 0.85 = 0.765: still validated
        ((0.5, 0, 2, 0), S.REFUTED),  # 0.10, two refuting
        ((0.3, 0, 1, 0), S.ACTIVE),  # 0.10 but only one refuting
        ((0.35, 0, 0, 1), S.RETIRED),  # 0.2975 after one turn of decay
        ((0.29, 0, 0, 0), S.CAPTURED),  # low, but never decayed
        ((0.5, 0, 0, 0), S.CAPTURED),
    ],
)
def test_status_rules(args: tuple[float, int, int, int], status: S) -> None:
    _, computed = confidence.assess(*args)
    assert computed is status


@given(likelihoods, counts, counts, turns)
def test_likelihood_is_always_within_0_and_1(initial: float, sup: int, ref: int, t: int) -> None:
    assert 0.0 <= confidence.likelihood(initial, sup, ref, t) <= 1.0


@given(likelihoods, counts, counts, turns)
def test_more_support_never_lowers_and_more_refutation_never_raises(
    initial: float, sup: int, ref: int, t: int
) -> None:
    base = confidence.likelihood(initial, sup, ref, t)
    assert confidence.likelihood(initial, sup + 1, ref, t) >= base
    assert confidence.likelihood(initial, sup, ref + 1, t) <= base


@given(likelihoods, counts, counts, turns)
def test_decay_never_raises_confidence(initial: float, sup: int, ref: int, t: int) -> None:
    assert confidence.likelihood(initial, sup, ref, t + 1) <= confidence.likelihood(
        initial, sup, ref, t
    )


@given(likelihoods, counts, counts, turns)
def test_status_is_consistent_with_thresholds(initial: float, sup: int, ref: int, t: int) -> None:
    value, status = confidence.assess(initial, sup, ref, t)
    if status is S.VALIDATED:
        assert value >= confidence.VALIDATED_AT and sup >= 2
    if status is S.REFUTED:
        assert value <= confidence.REFUTED_AT and ref >= 2
    if status is S.RETIRED:
        assert t > 0 and value < confidence.RETIRED_BELOW
    if value >= 0.70 and sup >= 2:
        assert status is S.VALIDATED
