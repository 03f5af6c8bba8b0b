"""Investigation API models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from faultmaven.core.models import RequestModel, Text
from faultmaven.investigation.phases import EngagementMode, Phase, Strategy


class EvidenceCategory(StrEnum):
    """The seed's seven kinds of evidence an investigation asks for."""

    SYMPTOMS = "symptoms"
    TIMELINE = "timeline"
    CHANGES = "changes"
    CONFIGURATION = "configuration"
    SCOPE = "scope"
    METRICS = "metrics"
    ENVIRONMENT = "environment"


# The kind of evidence each preprocessing data type is (what an upload can answer).
CATEGORY_OF_DATA_TYPE: dict[str, EvidenceCategory] = {
    "logs_and_errors": EvidenceCategory.SYMPTOMS,
    "trace_data": EvidenceCategory.SYMPTOMS,
    "visual_evidence": EvidenceCategory.SYMPTOMS,
    "metrics_and_performance": EvidenceCategory.METRICS,
    "profiling_data": EvidenceCategory.METRICS,
    "structured_config": EvidenceCategory.CONFIGURATION,
    "source_code": EvidenceCategory.CHANGES,
    "unstructured_text": EvidenceCategory.TIMELINE,
}


class RequestStatus(StrEnum):
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    RECEIVED = "received"
    VALIDATED = "validated"
    BLOCKED = "blocked"


OPEN_REQUEST_STATUSES = frozenset({RequestStatus.REQUESTED, RequestStatus.ACKNOWLEDGED})
# Three or more blocked requests stall the investigation (the seed's CaseStatus rule).
BLOCKED_STALL = 3


class NewEvidenceRequest(BaseModel):
    """What another domain (the agent's turn) asks to record; already validated there."""

    label: str
    description: str
    category: EvidenceCategory
    priority: int = Field(ge=1, le=5)
    guidance: dict[str, Any] = Field(default_factory=dict)
    for_hypothesis_id: str | None = None


class EvidenceRequestRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    case_id: str
    label: str
    description: str
    category: EvidenceCategory
    priority: int
    guidance: dict[str, Any]
    for_hypothesis_id: str | None
    status: RequestStatus
    status_reason: str
    fulfilled_by: list[str] = Field(default_factory=list, description="evidence ids")
    created_at_turn: int
    created_at: datetime
    updated_at: datetime


class RequestStatusChange(RequestModel):
    """What a user may say about a request: they are on it, or they cannot get it."""

    allowed: ClassVar[frozenset[RequestStatus]] = frozenset(
        {RequestStatus.ACKNOWLEDGED, RequestStatus.BLOCKED}
    )

    status: RequestStatus
    reason: Text = Field(default="", max_length=2000)


class ConsentRequest(RequestModel):
    """The user agrees that the agent leads an investigation of the case."""

    strategy: Strategy = Field(
        default=Strategy.ACTIVE_INCIDENT,
        description="active_incident: mitigation first; post_mortem: root cause first",
    )
    problem_statement: Text | None = Field(
        default=None,
        max_length=2000,
        description="The problem as confirmed; the case's description (or title) if unset",
    )


class PhaseRequirement(BaseModel):
    phase: int
    phase_name: str
    missing: list[str] = Field(description="what must still hold before the phase may end")


class InvestigationOut(BaseModel):
    investigation_id: str | None = Field(description="None until the user consents")
    case_id: str
    phase: int
    phase_name: str
    engagement_mode: EngagementMode
    strategy: Strategy
    status: str = Field(description="intake, investigating, stalled or done")
    problem_statement: str
    consented_by: str | None
    consented_at: datetime | None
    ooda: dict[str, Any] = Field(
        description="iterations (steps completed, insights, evidence, confidence delta, "
        "made_progress, stall reason), stall count and the anchoring flag"
    )
    hypotheses: dict[str, int] = Field(description="hypotheses of the case by status")
    requirements: PhaseRequirement
    anomaly_frame: dict[str, Any] = Field(default_factory=dict)
    timeline: dict[str, Any] = Field(default_factory=dict)
    working_conclusion: dict[str, Any] | None = None
    transitions: list[dict[str, Any]] = Field(
        default_factory=list, description="phase moves and loop-backs with their reasons"
    )
    classifications: list[dict[str, Any]] = Field(
        default_factory=list,
        description="how the latest arriving evidence was classified (the five dimensions)",
    )
    runs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the autonomous runs on Step Functions, newest last (RunOut)",
    )
    created_at: datetime | None
    updated_at: datetime | None


def phase_name(phase: int) -> str:
    return Phase(phase).name.lower()


class IterationReport(BaseModel):
    """What one lead-investigator turn found, as the agent reports it."""

    turn: int
    anomaly_frame: dict[str, str | None] | None = None
    timeline: dict[str, Any] | None = None
    working_conclusion: dict[str, Any] | None = None
    created_hypothesis_ids: list[str] = Field(default_factory=list)
    evidence_added: int = 0
    requests_made: int = 0
    focus_hypothesis_id: str | None = None
    # Hypotheses this iteration added evidence to: worked on, whether or not the focus.
    worked_hypothesis_ids: list[str] = Field(default_factory=list)
    new_insights: list[str] = Field(default_factory=list)
    fix_verified: bool = False
    steps_completed: list[str] = Field(default_factory=list)


class IterationOutcome(BaseModel):
    iteration: dict[str, Any]
    phase_from: int
    phase_to: int
    outcome: str
    reason: str
    stalled: bool
    anchored_on: str | None
    status: str


# -- the autonomous run on Step Functions ----------------------------------------------------


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STALLED = "stalled"
    BUDGET_EXHAUSTED = "budget_exhausted"
    FAILED = "failed"


class RunStep(StrEnum):
    """What the state machine does next: its Choice states route on these values."""

    BLAST_RADIUS = "blast_radius"
    TIMELINE = "timeline"
    HYPOTHESIS = "hypothesis"
    VALIDATION = "validation"
    SOLUTION = "solution"
    DOCUMENT = "document"
    AWAIT_EVIDENCE = "await_evidence"
    STALLED = "stalled"
    DONE = "done"
    BUDGET_EXHAUSTED = "budget_exhausted"


STEP_OF_PHASE: dict[Phase, RunStep] = {
    Phase.BLAST_RADIUS: RunStep.BLAST_RADIUS,
    Phase.TIMELINE: RunStep.TIMELINE,
    Phase.HYPOTHESIS: RunStep.HYPOTHESIS,
    Phase.VALIDATION: RunStep.VALIDATION,
    Phase.SOLUTION: RunStep.SOLUTION,
    Phase.DOCUMENT: RunStep.DOCUMENT,
}
FINAL_STEPS = frozenset({RunStep.STALLED, RunStep.DONE, RunStep.BUDGET_EXHAUSTED})


class RunPayload(BaseModel):
    """The state machine's state between tasks: ids and counters only, never case text
    (Step Functions keeps every state's input in its execution history)."""

    model_config = ConfigDict(extra="ignore")

    investigation_id: str
    case_id: str
    run: int = Field(ge=1)
    job_id: str
    user_id: str
    history_id: str = ""
    phase: int = 1
    next: RunStep = RunStep.BLAST_RADIUS
    steps: int = Field(default=0, ge=0, description="agent iterations so far in this run")
    hypotheses: list[str] = Field(default_factory=list, description="to validate (the Map)")
    reason: str = ""
    wait_seconds: int = Field(default=86_400, ge=1, description="the evidence wait's timeout")
    started_epoch: float = Field(default=0.0, ge=0, description="when the execution began")


class RunOut(BaseModel):
    """One run of the autonomous investigation."""

    run: int
    execution_name: str
    job_id: str
    status: RunStatus
    reason: str = ""
    phase_at_start: int
    phase: int | None = None
    steps: int = 0
    started_by: str
    started_at: datetime
    finished_at: datetime | None = None
