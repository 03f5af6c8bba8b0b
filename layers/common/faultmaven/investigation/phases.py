"""The 7-phase investigation's rules as pure functions (issue 14 §2): what each phase
needs to begin and to end, where it goes next (loop-backs included), how much of the
OODA loop it runs, and when an investigation is stalled or anchored.

Nothing here reads a store or calls a model: the investigation service gathers the
facts (`PhaseFacts`), asks these functions, and records their reasons as history stages.
So every rule is tested on its own, and the Step Functions Choice states act on the
`Transition` these functions return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class Phase(IntEnum):
    INTAKE = 0
    BLAST_RADIUS = 1
    TIMELINE = 2
    HYPOTHESIS = 3
    VALIDATION = 4
    SOLUTION = 5
    DOCUMENT = 6


class EngagementMode(StrEnum):
    CONSULTANT = "consultant"
    LEAD_INVESTIGATOR = "lead_investigator"


class Strategy(StrEnum):
    """Active incident: stop the bleeding first; post-mortem: the root cause first."""

    ACTIVE_INCIDENT = "active_incident"
    POST_MORTEM = "post_mortem"


class OODAStep(StrEnum):
    OBSERVE = "observe"
    ORIENT = "orient"
    DECIDE = "decide"
    ACT = "act"


class Outcome(StrEnum):
    """What a phase's iteration decides; the state machine's Choice reads it."""

    STAY = "stay"
    ADVANCE = "advance"
    LOOP_BACK = "loop_back"
    STALLED = "stalled"
    DONE = "done"


# The OODA steps each phase runs (observe/orient only in 0-2, the full loop in 3-5).
OODA_STEPS: dict[Phase, tuple[OODAStep, ...]] = {
    Phase.INTAKE: (OODAStep.OBSERVE, OODAStep.ORIENT),
    Phase.BLAST_RADIUS: (OODAStep.OBSERVE, OODAStep.ORIENT),
    Phase.TIMELINE: (OODAStep.OBSERVE, OODAStep.ORIENT),
    Phase.HYPOTHESIS: (OODAStep.OBSERVE, OODAStep.ORIENT, OODAStep.DECIDE, OODAStep.ACT),
    Phase.VALIDATION: (OODAStep.OBSERVE, OODAStep.ORIENT, OODAStep.DECIDE, OODAStep.ACT),
    Phase.SOLUTION: (OODAStep.OBSERVE, OODAStep.ORIENT, OODAStep.DECIDE, OODAStep.ACT),
    Phase.DOCUMENT: (OODAStep.ORIENT,),
}

# What the lead investigator works towards in each phase (the prompt's phase section).
# The agent's built-in tools each phase offers (give_answer is always offered): observe
# and orient in 0–2 (evidence, knowledge, the case, the conversation); the hypotheses
# from phase 3 on; the write-up in 6 reads, it does not search.
_READING = frozenset(
    {"search_knowledge", "list_evidence", "read_evidence", "get_case", "search_conversation"}
)
# Live telemetry (offered only while a registered cluster can answer): from intake, where
# an alert's case starts, to the solution, whose fix is verified against the metrics.
LIVE_TOOLS = frozenset({"query_metrics", "query_logs", "query_traces", "get_alerts"})
PHASE_TOOLS: dict[Phase, frozenset[str]] = {
    Phase.INTAKE: _READING | LIVE_TOOLS,
    Phase.BLAST_RADIUS: _READING | LIVE_TOOLS,
    Phase.TIMELINE: _READING | LIVE_TOOLS,
    Phase.HYPOTHESIS: _READING | LIVE_TOOLS | {"list_hypotheses"},
    Phase.VALIDATION: _READING | LIVE_TOOLS | {"list_hypotheses"},
    Phase.SOLUTION: _READING | LIVE_TOOLS | {"list_hypotheses"},
    Phase.DOCUMENT: frozenset(
        {"get_case", "list_evidence", "list_hypotheses", "search_conversation"}
    ),
}

PHASE_GOALS: dict[Phase, str] = {
    Phase.INTAKE: "Confirm the problem in one statement and ask whether to investigate.",
    Phase.BLAST_RADIUS: "Frame the anomaly: what is broken, expected vs actual behaviour, "
    "impact and scope. Fill anomaly_frame.",
    Phase.TIMELINE: "Establish when it started and what changed near then (deploys, config, "
    "traffic). Fill timeline; set changes_considered once the changes were looked at.",
    Phase.HYPOTHESIS: "Propose at least two hypotheses of different categories, each with "
    "its rationale and the evidence that would test it.",
    Phase.VALIDATION: "Test the open hypotheses one at a time: cite supporting or refuting "
    "evidence (supporting_source_ids / refuting_source_ids with the hypothesis_id) and ask "
    "for what would settle them. Name the hypothesis worked on in focus_hypothesis_id.",
    Phase.SOLUTION: "Propose the fix or mitigation for the validated cause, its risks and "
    "how to verify it; set fix_verified once the user confirms it worked.",
    Phase.DOCUMENT: "Summarise the root cause, the fix and the lessons for the report.",
}

STALL_AFTER = 3  # iterations in a row without progress
ANCHORING_AFTER = 4  # iterations on one hypothesis without a confidence gain
MIN_HYPOTHESES = 2
OPEN_HYPOTHESIS = frozenset({"captured", "active"})


@dataclass(frozen=True)
class HypothesisFacts:
    hypothesis_id: str
    status: str  # captured | active | validated | refuted | retired
    category: str
    likelihood: float
    tests: int = 0


@dataclass(frozen=True)
class PhaseFacts:
    """What the rules look at, gathered by the service from the case and the state."""

    consented: bool = False
    problem_statement: str | None = None
    # Blast radius (AnomalyFrame): what is broken, expected vs actual, impact, scope.
    what_is_broken: str | None = None
    expected_behaviour: str | None = None
    actual_behaviour: str | None = None
    impact: str | None = None
    scope: str | None = None
    # Timeline.
    started_at: datetime | None = None
    changes_considered: bool = False
    timeline_events: int = 0
    hypotheses: tuple[HypothesisFacts, ...] = ()
    solution_statuses: tuple[str, ...] = ()
    fix_verified: bool = False
    documented: bool = False


@dataclass(frozen=True)
class Verdict:
    met: bool
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    outcome: Outcome
    to: Phase
    reason: str


def _verdict(missing: Sequence[str]) -> Verdict:
    return Verdict(met=not missing, missing=tuple(missing))


def exit_criteria(phase: Phase, facts: PhaseFacts) -> Verdict:
    """What must hold before `phase` may end."""
    missing: list[str] = []
    if phase is Phase.INTAKE:
        if not facts.problem_statement:
            missing.append("a confirmed problem statement")
        if not facts.consented:
            missing.append("the user's consent to investigate")
    elif phase is Phase.BLAST_RADIUS:
        for name, value in (
            ("what is broken", facts.what_is_broken),
            ("expected behaviour", facts.expected_behaviour),
            ("actual behaviour", facts.actual_behaviour),
            ("impact", facts.impact),
            ("scope", facts.scope),
        ):
            if not value:
                missing.append(name)
    elif phase is Phase.TIMELINE:
        if facts.started_at is None:
            missing.append("when the problem started")
        if not facts.changes_considered:
            missing.append("the changes near the start")
    elif phase is Phase.HYPOTHESIS:
        candidates = [h for h in facts.hypotheses if h.status in OPEN_HYPOTHESIS]
        if len(candidates) < MIN_HYPOTHESES:
            missing.append(f"at least {MIN_HYPOTHESES} open hypotheses")
        if len({h.category for h in candidates}) < min(2, len(candidates)):
            missing.append("hypotheses of more than one category")
    elif phase is Phase.VALIDATION:
        if not any(h.status == "validated" for h in facts.hypotheses):
            missing.append("a validated hypothesis")
    elif phase is Phase.SOLUTION:
        if "applied" not in facts.solution_statuses:
            missing.append("an applied solution")
        if not facts.fix_verified:
            missing.append("the fix verified")
    elif phase is Phase.DOCUMENT and not facts.documented:
        missing.append("the case documented")
    return _verdict(missing)


def entry_criteria(phase: Phase, facts: PhaseFacts) -> Verdict:
    """What must hold before `phase` may begin: the previous phase's exit. (An active
    incident's shortcut to the solution is a transition, see `next_transition`.)"""
    if phase is Phase.INTAKE:
        return Verdict(True)
    return exit_criteria(Phase(phase - 1), facts)


def next_transition(phase: Phase, facts: PhaseFacts, strategy: Strategy) -> Transition:
    """Where the investigation goes after an iteration of `phase`."""
    if phase is Phase.VALIDATION:
        tested = [h for h in facts.hypotheses if h.status not in OPEN_HYPOTHESIS]
        open_ = [h for h in facts.hypotheses if h.status in OPEN_HYPOTHESIS]
        if facts.hypotheses and not open_ and not any(h.status == "validated" for h in tested):
            return Transition(
                Outcome.LOOP_BACK,
                Phase.HYPOTHESIS,
                f"all {len(tested)} hypotheses were refuted or retired: new ones are needed",
            )
    if (
        strategy is Strategy.ACTIVE_INCIDENT
        and phase in (Phase.BLAST_RADIUS, Phase.TIMELINE, Phase.HYPOTHESIS)
        and any(h.status == "validated" for h in facts.hypotheses)
    ):
        return Transition(
            Outcome.ADVANCE, Phase.SOLUTION, "active incident: a validated cause, mitigate first"
        )
    verdict = exit_criteria(phase, facts)
    if not verdict.met:
        return Transition(Outcome.STAY, phase, "still needed: " + ", ".join(verdict.missing))
    if phase is Phase.DOCUMENT:
        return Transition(Outcome.DONE, phase, "the investigation is documented")
    return Transition(Outcome.ADVANCE, Phase(phase + 1), f"{phase.name.lower()} complete")


@dataclass(frozen=True)
class Iteration:
    """One OODA iteration as the stall and anchoring rules see it."""

    number: int
    made_progress: bool
    focus_hypothesis_id: str | None = None
    confidence_delta: float = 0.0


@dataclass(frozen=True)
class Momentum:
    stalled: bool
    iterations_without_progress: int
    anchored_on: str | None
    reasons: tuple[str, ...] = field(default_factory=tuple)


def momentum(iterations: Sequence[Iteration]) -> Momentum:
    """Stalled after 3 iterations in a row without progress; anchored when the last 4
    or more iterations all worked one hypothesis without raising its confidence."""
    streak = 0
    for iteration in reversed(iterations):
        if iteration.made_progress:
            break
        streak += 1
    reasons: list[str] = []
    stalled = streak >= STALL_AFTER
    if stalled:
        reasons.append(f"{streak} iterations in a row without progress: consider escalating")
    anchored: str | None = None
    tail = list(iterations)[-ANCHORING_AFTER:]
    if len(tail) == ANCHORING_AFTER:
        focus = {i.focus_hypothesis_id for i in tail}
        if len(focus) == 1 and None not in focus and all(i.confidence_delta <= 0 for i in tail):
            anchored = tail[0].focus_hypothesis_id
            reasons.append(
                f"{ANCHORING_AFTER} iterations on {anchored} without a confidence gain: "
                "weigh the alternatives next"
            )
    return Momentum(stalled, streak, anchored, tuple(reasons))


def decay_due(iteration_number: int, last_decayed_iteration: int) -> bool:
    """Hypothesis decay (0.85 per iteration without progress) applies once per
    iteration, however many turns or retries the iteration took."""
    return iteration_number > last_decayed_iteration
