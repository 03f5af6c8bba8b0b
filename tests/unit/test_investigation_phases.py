"""The investigation's phase rules: criteria, transitions, loop-backs, stall, anchoring."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from faultmaven.investigation.phases import (
    OODA_STEPS,
    HypothesisFacts,
    Iteration,
    OODAStep,
    Outcome,
    Phase,
    PhaseFacts,
    Strategy,
    decay_due,
    entry_criteria,
    exit_criteria,
    momentum,
    next_transition,
)


def hyp(status: str, category: str = "data", hid: str = "h") -> HypothesisFacts:
    return HypothesisFacts(hypothesis_id=hid, status=status, category=category, likelihood=0.5)


FRAMED = PhaseFacts(
    consented=True,
    problem_statement="checkout times out",
    what_is_broken="checkout",
    expected_behaviour="p99 < 300 ms",
    actual_behaviour="timeouts after 30 s",
    impact="12% of orders fail",
    scope="eu-west-1, all users",
)
TIMED = PhaseFacts(
    **{**FRAMED.__dict__, "started_at": datetime(2026, 12, 1, 10, 2, tzinfo=UTC)},
)


def test_intake_needs_a_problem_and_consent() -> None:
    assert exit_criteria(Phase.INTAKE, PhaseFacts()).missing == (
        "a confirmed problem statement",
        "the user's consent to investigate",
    )
    assert exit_criteria(Phase.INTAKE, FRAMED).met


def test_blast_radius_needs_the_whole_anomaly_frame() -> None:
    partial = PhaseFacts(consented=True, problem_statement="x", what_is_broken="checkout")
    assert set(exit_criteria(Phase.BLAST_RADIUS, partial).missing) == {
        "expected behaviour",
        "actual behaviour",
        "impact",
        "scope",
    }
    assert exit_criteria(Phase.BLAST_RADIUS, FRAMED).met
    assert entry_criteria(Phase.TIMELINE, FRAMED).met
    assert not entry_criteria(Phase.TIMELINE, partial).met


def test_timeline_needs_a_start_and_the_changes() -> None:
    assert exit_criteria(Phase.TIMELINE, TIMED).missing == ("the changes near the start",)
    done = PhaseFacts(**{**TIMED.__dict__, "changes_considered": True})
    assert exit_criteria(Phase.TIMELINE, done).met


def test_hypothesis_needs_two_open_hypotheses_of_two_categories() -> None:
    one = PhaseFacts(hypotheses=(hyp("active"),))
    same = PhaseFacts(hypotheses=(hyp("active", "data"), hyp("captured", "data")))
    two = PhaseFacts(hypotheses=(hyp("active", "data"), hyp("captured", "network")))
    assert not exit_criteria(Phase.HYPOTHESIS, one).met
    assert exit_criteria(Phase.HYPOTHESIS, same).missing == (
        "hypotheses of more than one category",
    )
    assert exit_criteria(Phase.HYPOTHESIS, two).met


def test_all_refuted_loops_back_to_hypothesis_with_the_reason() -> None:
    facts = PhaseFacts(hypotheses=(hyp("refuted", hid="a"), hyp("retired", hid="b")))
    step = next_transition(Phase.VALIDATION, facts, Strategy.POST_MORTEM)
    assert step.outcome is Outcome.LOOP_BACK and step.to is Phase.HYPOTHESIS
    assert "refuted" in step.reason


def test_validation_stays_while_hypotheses_are_open_and_advances_when_one_holds() -> None:
    open_ = PhaseFacts(hypotheses=(hyp("refuted"), hyp("active")))
    assert next_transition(Phase.VALIDATION, open_, Strategy.POST_MORTEM).outcome is Outcome.STAY
    held = PhaseFacts(hypotheses=(hyp("refuted"), hyp("validated")))
    step = next_transition(Phase.VALIDATION, held, Strategy.POST_MORTEM)
    assert (step.outcome, step.to) == (Outcome.ADVANCE, Phase.SOLUTION)


@pytest.mark.parametrize("phase", [Phase.BLAST_RADIUS, Phase.TIMELINE, Phase.HYPOTHESIS])
def test_an_active_incident_mitigates_as_soon_as_a_cause_is_validated(phase: Phase) -> None:
    facts = PhaseFacts(hypotheses=(hyp("validated"),))
    assert next_transition(phase, facts, Strategy.ACTIVE_INCIDENT).to is Phase.SOLUTION
    assert next_transition(phase, facts, Strategy.POST_MORTEM).to is not Phase.SOLUTION


def test_solution_needs_an_applied_and_verified_fix_then_document_is_done() -> None:
    applied = PhaseFacts(solution_statuses=("proposed", "applied"))
    assert exit_criteria(Phase.SOLUTION, applied).missing == ("the fix verified",)
    verified = PhaseFacts(solution_statuses=("applied",), fix_verified=True)
    assert next_transition(Phase.SOLUTION, verified, Strategy.POST_MORTEM).to is Phase.DOCUMENT
    done = next_transition(Phase.DOCUMENT, PhaseFacts(documented=True), Strategy.POST_MORTEM)
    assert done.outcome is Outcome.DONE


def test_ooda_intensity_by_phase() -> None:
    for phase in (Phase.INTAKE, Phase.BLAST_RADIUS, Phase.TIMELINE):
        assert OODAStep.DECIDE not in OODA_STEPS[phase]
    for phase in (Phase.HYPOTHESIS, Phase.VALIDATION, Phase.SOLUTION):
        assert OODA_STEPS[phase] == tuple(OODAStep)


def test_three_iterations_without_progress_stall() -> None:
    iterations = [Iteration(1, True), Iteration(2, False), Iteration(3, False)]
    assert not momentum(iterations).stalled
    stalled = momentum([*iterations, Iteration(4, False)])
    assert stalled.stalled and stalled.iterations_without_progress == 3
    assert not momentum([*iterations, Iteration(4, True)]).stalled


def test_four_iterations_on_one_hypothesis_without_gain_is_anchoring() -> None:
    same = [Iteration(n, True, "hyp_1", 0.0) for n in range(1, 5)]
    assert momentum(same).anchored_on == "hyp_1"
    gained = [*same[:3], Iteration(4, True, "hyp_1", 0.1)]
    assert momentum(gained).anchored_on is None
    switched = [*same[:3], Iteration(4, True, "hyp_2", 0.0)]
    assert momentum(switched).anchored_on is None
    assert momentum(same[:3]).anchored_on is None


def test_decay_runs_once_per_iteration() -> None:
    assert decay_due(3, 2)
    assert not decay_due(3, 3)


def test_each_phase_offers_its_tools_observe_and_orient_first() -> None:
    from faultmaven.agent.tools import BY_NAME
    from faultmaven.investigation.phases import PHASE_TOOLS

    assert set(PHASE_TOOLS) == set(Phase)
    for phase, names in PHASE_TOOLS.items():
        assert names <= set(BY_NAME), phase
    for early in (Phase.INTAKE, Phase.BLAST_RADIUS, Phase.TIMELINE):
        assert "list_hypotheses" not in PHASE_TOOLS[early]
        assert {"read_evidence", "search_knowledge"} <= PHASE_TOOLS[early]
    for testing in (Phase.HYPOTHESIS, Phase.VALIDATION, Phase.SOLUTION):
        assert "list_hypotheses" in PHASE_TOOLS[testing]
    assert "search_knowledge" not in PHASE_TOOLS[Phase.DOCUMENT]
