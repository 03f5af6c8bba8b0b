"""What a piece of arriving evidence is, against what the investigation asked for: the
seed's five dimensions (which requests it answers and how completely, its form, whether it
supports or refutes or shows an absence, what the user meant by it) with a rationale and
a follow-up.

The model classifies when one is available (the agent domain asks it, with this schema);
`classify_by_rules` is the deterministic fallback and the offline answer. Pure functions:
no database, so the rules are unit-tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from faultmaven.core.terms import overlap, terms

# A request whose words are this much in the evidence is answered by it.
WORDS_MATCH = 0.5
# … and this much answers it completely.
COMPLETE_AT = 0.8
# A hypothesis whose words are this much in the evidence is what the evidence is about.
HYPOTHESIS_MATCH = 0.5


class Completeness(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    NONE = "none"


class EvidenceForm(StrEnum):
    DOCUMENT = "document"  # an uploaded file
    USER_INPUT = "user_input"  # typed in the chat


class EvidenceStance(StrEnum):
    SUPPORTIVE = "supportive"
    REFUTING = "refuting"
    NEUTRAL = "neutral"
    ABSENCE = "absence"  # it shows something is not there (no errors, no deploy)


class UserIntent(StrEnum):
    PROVIDING_EVIDENCE = "providing_evidence"
    ASKING_QUESTION = "asking_question"
    REPORTING_UNAVAILABLE = "reporting_unavailable"
    STATUS_UPDATE = "status_update"
    OTHER = "other"


Brief = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class HypothesisLink(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hypothesis_id: str = Field(max_length=40)
    stance: Literal["supporting", "refuting"]


class EvidenceClassification(BaseModel):
    """The five dimensions, as the model answers them (the `classify_evidence` tool's
    input) and as the rules do."""

    model_config = ConfigDict(extra="ignore")

    matched_request_ids: list[str] = Field(default_factory=list, max_length=20)
    completeness: Completeness = Completeness.NONE
    completeness_score: float = Field(default=0.0, ge=0, le=1)
    form: EvidenceForm = EvidenceForm.DOCUMENT
    stance: EvidenceStance = EvidenceStance.NEUTRAL
    user_intent: UserIntent = UserIntent.PROVIDING_EVIDENCE
    rationale: Brief = ""
    follow_up: Brief | None = None
    hypothesis_links: list[HypothesisLink] = Field(default_factory=list, max_length=10)
    classified_by: Literal["model", "rules"] = "rules"


@dataclass(frozen=True)
class OpenRequest:
    request_id: str
    label: str
    description: str
    category: str


@dataclass(frozen=True)
class OpenHypothesis:
    hypothesis_id: str
    statement: str


_QUESTION = re.compile(
    r"\?\s*$|^\s*(what|why|how|when|where|which|who|can|could|should|is|are|do|does)\b", re.I
)
_UNAVAILABLE = re.compile(
    r"\b(can(?:no|')t|cannot|unable|no access|don't have|do not have|not allowed|"
    r"isn't available|is not available|not available)\b",
    re.I,
)
_STATUS = re.compile(r"\b(applied|rolled (?:back|out)|deployed|restarted|fixed|resolved)\b", re.I)
_ABSENT = re.compile(
    r"\b(no|none|nothing|zero|never|without)\b\s+(\w+\s+){0,2}"
    r"(errors?|changes?|deploy\w*|alerts?|restarts?|entries|events?|issues?|spikes?)\b"
    r"|\bnot (found|seen|present|there)\b|\bempty\b",
    re.I,
)
_AGAINST = re.compile(
    r"\b(ruled out|unrelated|not the cause|not related|normal|healthy|fine|as expected|"
    r"unchanged|did not change|didn't change)\b",
    re.I,
)


# Words in a file's name that say what kind of evidence it is, whatever its format
# (`pool-metrics.json` is metrics even if its data type reads as a config file).
_NAME_HINTS: dict[str, frozenset[str]] = {
    "symptoms": frozenset({"log", "logs", "error", "errors", "trace", "traces", "stacktrace"}),
    "metrics": frozenset(
        {"metric", "metrics", "grafana", "prometheus", "dashboard", "latency", "cpu", "graph"}
    ),
    "changes": frozenset(
        {"deploy", "deploys", "deployment", "deployments", "release", "changelog", "diff"}
    ),
    "configuration": frozenset({"config", "configuration", "settings", "values", "conf"}),
    "timeline": frozenset({"timeline", "events", "incident", "postmortem"}),
    "environment": frozenset({"environment", "versions", "inventory", "nodes", "hosts"}),
    "scope": frozenset({"scope", "regions", "tenants", "customers", "impact"}),
}
_NAME_WORD = re.compile(r"[a-z]+")


def categories_of(filename: str, data_type_category: str | None) -> frozenset[str]:
    """The kinds of evidence a file is: its data type's, and those its name says."""
    words = set(_NAME_WORD.findall(filename.lower()))
    named = {category for category, hints in _NAME_HINTS.items() if words & hints}
    return frozenset(named | ({data_type_category} if data_type_category else set()))


def classify_by_rules(
    text: str,
    *,
    form: EvidenceForm,
    requests: Sequence[OpenRequest],
    hypotheses: Sequence[OpenHypothesis],
    categories: frozenset[str] = frozenset(),
) -> EvidenceClassification:
    """The deterministic classification. A request is answered when its words are in
    the evidence (`WORDS_MATCH`), or — for a file — when it is the best match among the
    requests of one of the file's kinds (`categories_of`). A hypothesis is linked when
    its words are in the evidence; the stance is refuting when the evidence says the
    thing is normal, absent or ruled out, supporting otherwise."""
    intent = _intent(text, form)
    scored = [(overlap(terms(f"{r.label} {r.description}"), text), r) for r in requests]
    matched: dict[str, float] = {}
    why: dict[str, str] = {}
    if intent is not UserIntent.REPORTING_UNAVAILABLE:
        for score, r in scored:
            if score >= WORDS_MATCH:
                matched[r.request_id] = score
                why[r.request_id] = f"{round(score * 100)}% of its words"
        if categories and form is EvidenceForm.DOCUMENT:
            for category in sorted(categories):
                of_category = sorted(
                    ((s, r) for s, r in scored if r.category == category), key=lambda p: -p[0]
                )
                if of_category and of_category[0][1].request_id not in matched:
                    best_score, best = of_category[0]
                    matched[best.request_id] = max(best_score, WORDS_MATCH)
                    why[best.request_id] = f"the file is {category} evidence"
    best_score = max(matched.values(), default=0.0)
    completeness = (
        Completeness.NONE
        if not matched
        else Completeness.COMPLETE
        if best_score >= COMPLETE_AT
        else Completeness.PARTIAL
    )
    absent = bool(_ABSENT.search(text))
    against = absent or bool(_AGAINST.search(text))
    links = [
        HypothesisLink(
            hypothesis_id=h.hypothesis_id, stance="refuting" if against else "supporting"
        )
        for h in hypotheses
        if overlap(terms(h.statement), text) >= HYPOTHESIS_MATCH
    ][:10]
    if absent:
        stance = EvidenceStance.ABSENCE
    elif links:
        stance = EvidenceStance.REFUTING if against else EvidenceStance.SUPPORTIVE
    else:
        stance = EvidenceStance.NEUTRAL
    if matched and intent is UserIntent.OTHER:
        intent = UserIntent.PROVIDING_EVIDENCE
    labels = {r.request_id: r.label for _, r in scored}
    answered = ", ".join(f"{labels[i]} ({why[i]})" for i in matched)
    rationale = f"answers {answered}" if matched else "answers no open request"
    if links:
        rationale += (
            "; "
            + ("contradicts" if against else "bears on")
            + " "
            + ", ".join(link.hypothesis_id for link in links)
        )
    follow_up = None
    if completeness is Completeness.PARTIAL:
        follow_up = "the rest of: " + "; ".join(labels[i] for i in matched)
    elif intent is UserIntent.REPORTING_UNAVAILABLE and requests:
        follow_up = "an alternative source for: " + requests[0].label
    return EvidenceClassification(
        matched_request_ids=sorted(matched),
        completeness=completeness,
        completeness_score=round(best_score, 3),
        form=form,
        stance=stance,
        user_intent=intent,
        rationale=rationale[:500],
        follow_up=follow_up[:500] if follow_up else None,
        hypothesis_links=links,
        classified_by="rules",
    )


def _intent(text: str, form: EvidenceForm) -> UserIntent:
    if form is EvidenceForm.DOCUMENT:
        return UserIntent.PROVIDING_EVIDENCE
    if _UNAVAILABLE.search(text):
        return UserIntent.REPORTING_UNAVAILABLE
    if _QUESTION.search(text.strip().splitlines()[0] if text.strip() else ""):
        return UserIntent.ASKING_QUESTION
    if _STATUS.search(text):
        return UserIntent.STATUS_UPDATE
    return UserIntent.OTHER


def sanitized(
    answer: EvidenceClassification,
    *,
    requests: Sequence[OpenRequest],
    hypotheses: Sequence[OpenHypothesis],
    form: EvidenceForm,
) -> EvidenceClassification:
    """The model's classification kept to what exists: ids it was not shown are dropped
    (a model may invent them), the form is what the system knows it to be."""
    known_requests = {r.request_id for r in requests}
    known_hypotheses = {h.hypothesis_id for h in hypotheses}
    matched = sorted({i for i in answer.matched_request_ids if i in known_requests})
    return answer.model_copy(
        update={
            "matched_request_ids": matched,
            "completeness": answer.completeness if matched else Completeness.NONE,
            "hypothesis_links": [
                link for link in answer.hypothesis_links if link.hypothesis_id in known_hypotheses
            ],
            "form": form,
            "classified_by": "model",
        }
    )
