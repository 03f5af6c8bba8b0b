"""The case lifecycle as an explicit transition table.

active ─▶ investigating ─▶ resolved ─▶ validated ─▶ documenting ─▶ archived
              │  ▲             │                        ▲
              ▼  │             └────────────────────────┘
            stalled
A resolved case whose fix did not hold may go back to investigating; any open case may be
archived (abandoned, duplicate); archived is terminal.
"""

from __future__ import annotations

from faultmaven.cases.models import CaseStatus, SolutionStatus

S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.ACTIVE: frozenset({S.INVESTIGATING, S.RESOLVED, S.ARCHIVED}),
    S.INVESTIGATING: frozenset({S.STALLED, S.RESOLVED, S.ARCHIVED}),
    S.STALLED: frozenset({S.INVESTIGATING, S.RESOLVED, S.ARCHIVED}),
    S.RESOLVED: frozenset({S.VALIDATED, S.DOCUMENTING, S.INVESTIGATING, S.ARCHIVED}),
    S.VALIDATED: frozenset({S.DOCUMENTING, S.ARCHIVED}),
    S.DOCUMENTING: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

# A closed case is read-only: no new messages, hypotheses or solutions.
CLOSED = frozenset({S.ARCHIVED})


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    return target in TRANSITIONS[current]


def allowed_targets(current: CaseStatus) -> list[CaseStatus]:
    return sorted(TRANSITIONS[current], key=list(CaseStatus).index)


SOLUTION_TRANSITIONS: dict[SolutionStatus, frozenset[SolutionStatus]] = {
    SolutionStatus.PROPOSED: frozenset({SolutionStatus.APPLYING}),
    SolutionStatus.APPLYING: frozenset({SolutionStatus.APPLIED, SolutionStatus.FAILED}),
    SolutionStatus.APPLIED: frozenset(),
    SolutionStatus.FAILED: frozenset(),
}


def can_move_solution(current: SolutionStatus, target: SolutionStatus) -> bool:
    return target in SOLUTION_TRANSITIONS[current]
