"""The case lifecycle table."""

from __future__ import annotations

from collections import deque

import pytest

from faultmaven.cases import lifecycle
from faultmaven.cases.models import CaseStatus as S
from faultmaven.cases.models import SolutionStatus as Sol


def test_every_status_has_a_row() -> None:
    assert set(lifecycle.TRANSITIONS) == set(S)


def test_archived_is_terminal_and_every_status_can_reach_it() -> None:
    assert lifecycle.TRANSITIONS[S.ARCHIVED] == frozenset()
    for status in S:
        if status is not S.ARCHIVED:
            assert lifecycle.can_transition(status, S.ARCHIVED)


def test_every_status_is_reachable_from_active() -> None:
    seen, queue = {S.ACTIVE}, deque([S.ACTIVE])
    while queue:
        for target in lifecycle.TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(S)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.ACTIVE, S.INVESTIGATING, True),
        (S.INVESTIGATING, S.STALLED, True),
        (S.STALLED, S.INVESTIGATING, True),
        (S.RESOLVED, S.INVESTIGATING, True),  # the fix did not hold
        (S.RESOLVED, S.VALIDATED, True),
        (S.VALIDATED, S.DOCUMENTING, True),
        (S.ACTIVE, S.VALIDATED, False),  # nothing to validate yet
        (S.ACTIVE, S.STALLED, False),
        (S.DOCUMENTING, S.INVESTIGATING, False),
        (S.ARCHIVED, S.ACTIVE, False),
        (S.ACTIVE, S.ACTIVE, False),  # no self-loops: every move is a real change
    ],
)
def test_selected_moves(current: S, target: S, allowed: bool) -> None:
    assert lifecycle.can_transition(current, target) is allowed


def test_no_status_moves_to_itself() -> None:
    assert all(status not in targets for status, targets in lifecycle.TRANSITIONS.items())


def test_solution_moves() -> None:
    assert lifecycle.can_move_solution(Sol.PROPOSED, Sol.APPLYING)
    assert lifecycle.can_move_solution(Sol.APPLYING, Sol.APPLIED)
    assert lifecycle.can_move_solution(Sol.APPLYING, Sol.FAILED)
    assert not lifecycle.can_move_solution(Sol.PROPOSED, Sol.APPLIED)
    assert not lifecycle.can_move_solution(Sol.APPLIED, Sol.APPLYING)
    assert set(lifecycle.SOLUTION_TRANSITIONS) == set(Sol)
