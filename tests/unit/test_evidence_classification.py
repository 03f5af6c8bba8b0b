"""The deterministic classification of arriving evidence (the fallback when no model
answers) and the sanitizing of a model's classification."""

from __future__ import annotations

from faultmaven.investigation.classify import (
    Completeness,
    EvidenceClassification,
    EvidenceForm,
    EvidenceStance,
    HypothesisLink,
    OpenHypothesis,
    OpenRequest,
    UserIntent,
    categories_of,
    classify_by_rules,
    sanitized,
)

DEPLOYS = OpenRequest(
    "er_1", "Recent deployments", "The deploy history of billing-worker since Monday", "changes"
)
METRICS = OpenRequest("er_2", "Queue depth", "The queue depth graph of the orders queue", "metrics")
LEAK = OpenHypothesis("hyp_1", "A memory leak in billing-worker after the deploy")


def test_a_message_that_names_the_request_answers_it_completely() -> None:
    result = classify_by_rules(
        "Recent deployments: the deploy history of billing-worker since Monday is v41 (Tuesday)",
        form=EvidenceForm.USER_INPUT,
        requests=[DEPLOYS, METRICS],
        hypotheses=[],
    )
    assert result.matched_request_ids == ["er_1"]
    assert result.completeness is Completeness.COMPLETE
    assert result.user_intent is UserIntent.PROVIDING_EVIDENCE
    assert result.classified_by == "rules"
    assert "Recent deployments" in result.rationale


def test_a_partial_answer_is_partial_and_asks_for_the_rest() -> None:
    result = classify_by_rules(
        "deploy history of billing-worker: v41 on Tuesday",
        form=EvidenceForm.USER_INPUT,
        requests=[DEPLOYS],
        hypotheses=[],
    )
    assert result.matched_request_ids == ["er_1"]
    assert result.completeness is Completeness.PARTIAL
    assert result.follow_up and "Recent deployments" in result.follow_up


def test_a_file_answers_the_best_request_of_its_category_even_without_shared_words() -> None:
    result = classify_by_rules(
        "grafana-export.csv\ncolumns ts,value; 1440 rows",
        form=EvidenceForm.DOCUMENT,
        requests=[DEPLOYS, METRICS],
        hypotheses=[],
        categories=categories_of("grafana-export.csv", None),
    )
    assert result.matched_request_ids == ["er_2"]


def test_a_files_name_says_what_kind_of_evidence_it_is() -> None:
    assert categories_of("pool-metrics.json", "configuration") == {"metrics", "configuration"}
    assert categories_of("deploys-since-monday.txt", "timeline") == {"changes", "timeline"}
    assert categories_of("notes.txt", None) == frozenset()


def test_saying_it_cannot_be_had_answers_nothing() -> None:
    result = classify_by_rules(
        "I can't get the deploy history of billing-worker, no access to the CI",
        form=EvidenceForm.USER_INPUT,
        requests=[DEPLOYS],
        hypotheses=[],
    )
    assert result.user_intent is UserIntent.REPORTING_UNAVAILABLE
    assert result.matched_request_ids == []
    assert result.follow_up and "alternative" in result.follow_up


def test_a_question_is_a_question() -> None:
    result = classify_by_rules(
        "Which queue do you mean?",
        form=EvidenceForm.USER_INPUT,
        requests=[METRICS],
        hypotheses=[],
    )
    assert result.user_intent is UserIntent.ASKING_QUESTION
    assert result.matched_request_ids == []


def test_evidence_about_a_hypothesis_supports_it_unless_it_says_otherwise() -> None:
    supporting = classify_by_rules(
        "billing-worker memory grows after the deploy until the OOM kill: a leak",
        form=EvidenceForm.DOCUMENT,
        requests=[],
        hypotheses=[LEAK],
    )
    assert supporting.hypothesis_links == [
        HypothesisLink(hypothesis_id="hyp_1", stance="supporting")
    ]
    assert supporting.stance is EvidenceStance.SUPPORTIVE
    refuting = classify_by_rules(
        "billing-worker memory is flat and healthy after the deploy: no leak",
        form=EvidenceForm.DOCUMENT,
        requests=[],
        hypotheses=[LEAK],
    )
    assert [link.stance for link in refuting.hypothesis_links] == ["refuting"]
    assert refuting.stance in (EvidenceStance.REFUTING, EvidenceStance.ABSENCE)


def test_evidence_of_an_absence_is_classified_as_such() -> None:
    result = classify_by_rules(
        "deploy history of billing-worker since Monday: no deployments at all",
        form=EvidenceForm.USER_INPUT,
        requests=[DEPLOYS],
        hypotheses=[],
    )
    assert result.stance is EvidenceStance.ABSENCE
    assert result.matched_request_ids == ["er_1"]


def test_unrelated_evidence_is_neutral_and_matches_nothing() -> None:
    result = classify_by_rules(
        "the office coffee machine is broken",
        form=EvidenceForm.USER_INPUT,
        requests=[DEPLOYS, METRICS],
        hypotheses=[LEAK],
    )
    assert result.matched_request_ids == []
    assert result.hypothesis_links == []
    assert result.stance is EvidenceStance.NEUTRAL
    assert result.completeness is Completeness.NONE


def test_a_models_invented_ids_are_dropped() -> None:
    answer = EvidenceClassification(
        matched_request_ids=["er_1", "er_999"],
        completeness=Completeness.COMPLETE,
        completeness_score=0.9,
        hypothesis_links=[
            HypothesisLink(hypothesis_id="hyp_1", stance="refuting"),
            HypothesisLink(hypothesis_id="hyp_404", stance="supporting"),
        ],
        form=EvidenceForm.DOCUMENT,
    )
    kept = sanitized(answer, requests=[DEPLOYS], hypotheses=[LEAK], form=EvidenceForm.USER_INPUT)
    assert kept.matched_request_ids == ["er_1"]
    assert [link.hypothesis_id for link in kept.hypothesis_links] == ["hyp_1"]
    assert kept.form is EvidenceForm.USER_INPUT and kept.classified_by == "model"
    nothing = sanitized(
        answer.model_copy(update={"matched_request_ids": ["er_999"]}),
        requests=[DEPLOYS],
        hypotheses=[],
        form=EvidenceForm.DOCUMENT,
    )
    assert nothing.matched_request_ids == [] and nothing.completeness is Completeness.NONE
