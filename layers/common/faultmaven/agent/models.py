"""The agent's wire contract (AgentResponse v3.1.0) and the answer the model must give.

Two families live here:

- the HTTP shapes: `QueryRequest` in, `AgentResponse` out, with its `Source`s, its
  `ViewState` and the typed `ResponseMetadata`. The names and enums follow FaultMaven's
  v3.1.0 contract (see docs/research/faultmaven-agent-contract.md), so FaultMaven's own
  clients parse a response from us; fields the seed adds (`structured_data`,
  `source_id`, `snippet`, the ViewState extensions) sit beside them.
- `AgentAnswer`: what the model must return, offered to it as the schema of the
  `give_answer` tool. It is validated like any request body; the turn turns it into an
  `AgentResponse` after checking its citations against what the model was shown.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from faultmaven.cases.models import (
    CaseOut,
    HypothesisCategory,
    RiskLevel,
    SolutionCategory,
)
from faultmaven.core.models import Metadata, RequestModel, StrictBool, Text
from faultmaven.investigation.classify import EvidenceClassification
from faultmaven.investigation.models import EvidenceCategory

__all__ = ["EvidenceCategory"]  # re-exported: part of the answer's schema

SCHEMA_VERSION: Literal["3.1.0"] = "3.1.0"
MAX_QUERY_BYTES = 100 * 1024

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Sentence = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ResponseType(StrEnum):
    """What kind of answer this is; each has its own `structured_data` shape
    (`STRUCTURED_DATA` below, documented in the README)."""

    ANSWER = "ANSWER"
    PLAN_PROPOSAL = "PLAN_PROPOSAL"
    CLARIFICATION_REQUEST = "CLARIFICATION_REQUEST"
    CONFIRMATION_REQUEST = "CONFIRMATION_REQUEST"
    SOLUTION_READY = "SOLUTION_READY"
    NEEDS_MORE_DATA = "NEEDS_MORE_DATA"
    ESCALATION_REQUIRED = "ESCALATION_REQUIRED"
    VISUAL_DIAGRAM = "VISUAL_DIAGRAM"
    COMPARISON_TABLE = "COMPARISON_TABLE"
    HYPOTHESIS_PROPOSAL = "HYPOTHESIS_PROPOSAL"
    EVIDENCE_ANALYSIS = "EVIDENCE_ANALYSIS"
    ROOT_CAUSE_IDENTIFIED = "ROOT_CAUSE_IDENTIFIED"
    COMMAND_SUGGESTION = "COMMAND_SUGGESTION"
    KNOWLEDGE_REFERENCE = "KNOWLEDGE_REFERENCE"
    INVESTIGATION_SUMMARY = "INVESTIGATION_SUMMARY"
    STATUS_UPDATE = "STATUS_UPDATE"
    GENERAL_RESPONSE = "GENERAL_RESPONSE"


# The turn itself answers these (a deadline hit, an answer that would not validate); the
# model is not offered them.
TURN_ONLY_TYPES = frozenset({ResponseType.STATUS_UPDATE, ResponseType.GENERAL_RESPONSE})


class SourceType(StrEnum):
    KNOWLEDGE_BASE = "knowledge_base"
    LOG_FILE = "log_file"
    WEB_SEARCH = "web_search"
    DOCUMENTATION = "documentation"
    PREVIOUS_ANALYSIS = "previous_analysis"
    USER_PROVIDED = "user_provided"
    CASE_EVIDENCE = "case_evidence"
    TELEMETRY = "telemetry"  # a live query's result (Prometheus, Loki, Tempo, Alertmanager)
    CASE_HISTORY = "case_history"  # a resolved past case's runbook or post-mortem


# -- request --------------------------------------------------------------------------


class QueryRequest(RequestModel):
    session_id: str = Field(min_length=1, max_length=64)
    query: Text = Field(min_length=1, description="The question; at most 100 KiB of UTF-8")
    context: Metadata | None = Field(
        default=None, description="Client context (page URL, selection…), at most 4 KiB"
    )
    priority: Literal["low", "normal", "medium", "high", "critical"] = "normal"
    timestamp: datetime | None = Field(default=None, description="When the user asked")
    consent_to_investigate: StrictBool = Field(
        default=False,
        description="Let the agent lead an investigation of the case (phase 1 onwards)",
    )

    @field_validator("query")
    @classmethod
    def _size(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if len(value.encode("utf-8")) > MAX_QUERY_BYTES:
            raise ValueError(f"must be at most {MAX_QUERY_BYTES} bytes")
        return value


# -- the model's answer (the give_answer tool's input) ---------------------------------


class AcquisitionGuidance(BaseModel):
    """How the user can get the evidence: at most 5 steps, and the usual helpers."""

    model_config = ConfigDict(extra="ignore")

    steps: list[Sentence] = Field(default_factory=list, max_length=5)
    commands: list[Sentence] = Field(default_factory=list, max_length=3)
    file_locations: list[Short] = Field(default_factory=list, max_length=3)
    ui_locations: list[Short] = Field(default_factory=list, max_length=3)
    alternatives: list[Short] = Field(default_factory=list, max_length=3)
    prerequisites: list[Short] = Field(default_factory=list, max_length=2)
    expected_output: Annotated[str, StringConstraints(max_length=200)] | None = None


class EvidenceRequestDraft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: Sentence
    category: EvidenceCategory
    priority: int = Field(default=2, ge=1, le=5, description="1 critical … 5 nice to have")
    guidance: AcquisitionGuidance = Field(default_factory=AcquisitionGuidance)
    for_hypothesis_id: str | None = Field(
        default=None, max_length=40, description="the hypothesis this evidence would test"
    )


class HypothesisDraft(BaseModel):
    """A new hypothesis, or (with `hypothesis_id`) evidence for or against one the case
    already has. The likelihood of an existing one is never set by the model: the case's
    confidence rules derive it from the evidence."""

    model_config = ConfigDict(extra="ignore")

    hypothesis_id: str | None = Field(default=None, max_length=40)
    statement: Sentence
    category: HypothesisCategory = HypothesisCategory.OTHER
    likelihood: float = Field(default=0.5, ge=0, le=1)
    rationale: Annotated[str, StringConstraints(max_length=1000)] = ""
    supporting_source_ids: list[str] = Field(default_factory=list, max_length=10)
    refuting_source_ids: list[str] = Field(default_factory=list, max_length=10)


class CommandSuggestion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: Sentence
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    safety: Literal["safe", "read_only", "caution"] = "read_only"


class SolutionDraft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    category: SolutionCategory = SolutionCategory.FIX
    steps: list[Sentence] = Field(default_factory=list, max_length=10)
    risk_level: RiskLevel = RiskLevel.MEDIUM
    hypothesis_id: str | None = Field(default=None, max_length=40)


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    step_number: int = Field(ge=1, le=50)
    action: Short
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    commands: list[Sentence] = Field(default_factory=list, max_length=3)


Brief = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class AnomalyFrameDraft(BaseModel):
    """Phase 1 (blast radius): what is broken, and how badly, as far as known."""

    model_config = ConfigDict(extra="ignore")

    what_is_broken: Brief | None = None
    expected_behaviour: Brief | None = None
    actual_behaviour: Brief | None = None
    impact: Brief | None = None
    scope: Brief | None = None


class TimelineDraft(BaseModel):
    """Phase 2: when it started and what changed near then."""

    model_config = ConfigDict(extra="ignore")

    started_at: datetime | None = None
    changes: list[Sentence] = Field(default_factory=list, max_length=10)
    changes_considered: bool = False
    events: list[Sentence] = Field(default_factory=list, max_length=20)


class WorkingConclusion(BaseModel):
    """Every lead-investigator turn: where the investigation stands."""

    model_config = ConfigDict(extra="ignore")

    statement: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    confidence: float = Field(default=0.3, ge=0, le=1)
    would_change_it: list[Sentence] = Field(default_factory=list, max_length=3)
    next_steps: list[Sentence] = Field(default_factory=list, max_length=5)


class AgentAnswer(BaseModel):
    """The one tool the model ends every turn with."""

    model_config = ConfigDict(extra="ignore")

    response_type: ResponseType
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
    confidence: float = Field(default=0.5, ge=0, le=1)
    cited_source_ids: list[str] = Field(default_factory=list, max_length=20)
    hypotheses: list[HypothesisDraft] = Field(default_factory=list, max_length=5)
    evidence_requests: list[EvidenceRequestDraft] = Field(default_factory=list, max_length=3)
    suggested_commands: list[CommandSuggestion] = Field(default_factory=list, max_length=5)
    solutions: list[SolutionDraft] = Field(default_factory=list, max_length=3)
    clarifying_questions: list[Sentence] = Field(default_factory=list, max_length=3)
    plan: list[PlanStep] = Field(default_factory=list, max_length=10)
    diagram: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="Mermaid source, for VISUAL_DIAGRAM"
    )
    table: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="A Markdown table, for COMPARISON_TABLE"
    )
    escalation_reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    root_cause: Annotated[str, StringConstraints(max_length=1000)] | None = None
    # Lead-investigator turns (an investigation consented to): the phase's findings.
    anomaly_frame: AnomalyFrameDraft | None = None
    timeline: TimelineDraft | None = None
    working_conclusion: WorkingConclusion | None = None
    focus_hypothesis_id: str | None = Field(
        default=None, max_length=40, description="the hypothesis this turn worked on"
    )
    fix_verified: bool = False
    evidence_classification: EvidenceClassification | None = Field(
        default=None,
        description="when the engineer's message answers open evidence requests: which, "
        "how completely, supportive/refuting/absence, what they meant",
    )

    @field_validator("response_type")
    @classmethod
    def _offered(cls, value: ResponseType) -> ResponseType:
        if value in TURN_ONLY_TYPES:
            raise ValueError(f"{value.value} is not a type the answer may take")
        return value

    @model_validator(mode="after")
    def _payload(self) -> AgentAnswer:
        """A type whose point is its payload must carry it (the repair round asks)."""
        needed = _PAYLOADS.get(self.response_type)
        if needed is not None and not getattr(self, needed):
            raise ValueError(f"{self.response_type.value} needs {needed}")
        return self


_PAYLOADS: dict[ResponseType, str] = {
    ResponseType.VISUAL_DIAGRAM: "diagram",
    ResponseType.COMPARISON_TABLE: "table",
    ResponseType.CLARIFICATION_REQUEST: "clarifying_questions",
    ResponseType.PLAN_PROPOSAL: "plan",
    ResponseType.COMMAND_SUGGESTION: "suggested_commands",
}


# -- the response ----------------------------------------------------------------------


class Source(BaseModel):
    """A piece of evidence or knowledge the answer cites. `content` is FaultMaven's name
    for the snippet; both are sent."""

    type: SourceType
    source_id: str = Field(description="evidence id#chunk, or document id#chunk id")
    content: str
    snippet: str
    confidence: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class EvidenceRequestOut(EvidenceRequestDraft):
    """An evidence request as the investigation stores it (GET …/evidence-requests)."""

    request_id: str
    status: Literal["requested", "acknowledged", "received", "validated", "blocked"] = "requested"
    created_at_turn: int
    completeness: float = 0.0
    for_hypothesis_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class HypothesisSummary(BaseModel):
    hypothesis_id: str
    statement: str
    category: str
    likelihood: float
    status: str
    created_this_turn: bool = False


class UploadedData(BaseModel):
    id: str
    name: str
    type: str | None
    size_bytes: int | None
    upload_timestamp: datetime
    processing_status: str
    processing_summary: str | None
    insights: list[str] = Field(default_factory=list)


class AvailableAction(BaseModel):
    id: str
    label: str
    description: str
    requires_confirmation: bool = False


class ProgressIndicator(BaseModel):
    phase: str
    status: Literal["pending", "in_progress", "completed", "failed"]
    description: str
    percentage: int | None = None


class ViewUser(BaseModel):
    user_id: str
    email: str | None = None
    name: str | None = None


class InvestigationProgress(BaseModel):
    phase: int = 0
    phase_name: str = "intake"
    engagement_mode: Literal["consultant", "lead_investigator"] = "consultant"
    strategy: Literal["active_incident", "post_mortem"] = "active_incident"
    status: str = "intake"
    turn: int
    hypotheses_total: int
    hypotheses_active: int
    leading_hypothesis: str | None = None
    leading_likelihood: float | None = None


class OODAProgress(BaseModel):
    iteration: int
    current_step: Literal["observe", "orient", "decide", "act"]
    steps_completed: list[str]


class EvidenceStatus(BaseModel):
    files_total: int
    files_processed: int
    files_failed: int
    requests_pending: int
    requests_complete: int
    categories_present: list[str]
    categories_missing: list[str]


class ViewState(BaseModel):
    session_id: str
    user: ViewUser
    active_case: CaseOut | None = None
    cases: list[dict[str, Any]] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    running_summary: str = ""
    uploaded_data: list[UploadedData] = Field(default_factory=list)
    conversation_count: int = 0
    can_upload_data: bool = True
    needs_more_info: bool = False
    available_actions: list[AvailableAction] = Field(default_factory=list)
    progress_indicators: list[ProgressIndicator] = Field(default_factory=list)
    show_case_selector: bool = True
    show_data_upload: bool = True
    loading_state: str | None = None
    memory_context: dict[str, Any] | None = None
    planning_state: dict[str, Any] | None = None
    investigation_progress: InvestigationProgress | None = None
    ooda_progress: OODAProgress | None = None
    evidence_status: EvidenceStatus | None = None


class ResponseMetadata(BaseModel):
    confidence: float
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    total_tokens: int
    cost_usd: float
    provider: str
    model: str
    offline: bool
    processing_time_ms: int
    history_session_id: str
    turn: int
    model_calls: int
    tool_calls: int
    context_tokens: int = Field(description="estimated tokens of the first prompt")
    dropped_context: list[str] = Field(
        default_factory=list, description="context sections left out for the budget"
    )
    deadline_hit: bool = False
    fallback_reason: str | None = None


class AgentResponse(BaseModel):
    """FaultMaven's AgentResponse 3.1.0, plus the seed's `structured_data` and typed
    `metadata`. Extra fields are allowed, as FaultMaven's own model allows them."""

    model_config = ConfigDict(extra="allow")

    schema_version: Literal["3.1.0"] = SCHEMA_VERSION
    response_type: ResponseType
    content: str
    session_id: str
    case_id: str
    message_id: str = Field(description="the stored agent message")
    query_message_id: str = Field(description="the stored user message")
    confidence_score: float | None = None
    sources: list[Source] = Field(default_factory=list)
    structured_data: dict[str, Any] = Field(default_factory=dict)
    next_action_hint: str | None = None
    view_state: ViewState
    plan: list[PlanStep] | None = None
    evidence_requests: list[EvidenceRequestOut] = Field(default_factory=list)
    investigation_mode: Literal["active_incident", "post_mortem"] = "active_incident"
    case_status: str
    suggested_actions: list[dict[str, Any]] | None = None
    suggested_commands: list[CommandSuggestion] = Field(default_factory=list)
    new_hypotheses: list[HypothesisSummary] = Field(default_factory=list)
    working_conclusion: WorkingConclusion | None = None
    phase_transition: dict[str, Any] | None = Field(
        default=None, description="the investigation's phase move this turn, with its reason"
    )
    metadata: ResponseMetadata


class AgentHealth(BaseModel):
    status: Literal["ok", "degraded"]
    provider: str
    model: str
    offline: bool
    fallback: list[str] = Field(description="providers tried after the first, in order")
    schema_version: str = SCHEMA_VERSION
