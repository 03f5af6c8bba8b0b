"""A chat turn in the words of FaultMaven's copilot: our AgentResponse, the attachments'
evidence and the investigation's phase, translated into its TurnResponse. A translation
table and field moves; no rule of its own."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from faultmaven.agent.models import AgentResponse, Source, SourceType
from faultmaven.cases.models import CaseStatus
from faultmaven.compat.cases import STATE_OF, State
from faultmaven.evidence.models import EvidenceOut
from faultmaven.investigation.phases import Phase
from faultmaven.preprocessing.models import DataType

if TYPE_CHECKING:  # the service and its imports are the agent function's, not every one's
    from faultmaven.agent.attachments import AttachedTurnResult

# The copilot counts these six milestones; each is reached when our investigation has
# finished the phase beside it.
MILESTONES_OF_PHASE: dict[Phase, tuple[str, ...]] = {
    Phase.INTAKE: ("symptom_verified",),
    Phase.BLAST_RADIUS: ("scope_assessed",),
    Phase.TIMELINE: ("timeline_established", "changes_identified"),
    Phase.VALIDATION: ("root_cause_identified",),
    Phase.SOLUTION: ("solution_proposed",),
}
# Its upload classes, from our eight data types.
SOURCE_TYPE_OF: dict[str, str] = {
    DataType.LOGS_AND_ERRORS.value: "logs",
    DataType.TRACE_DATA.value: "logs",
    DataType.PROFILING_DATA.value: "metrics",
    DataType.METRICS_AND_PERFORMANCE.value: "metrics",
    DataType.STRUCTURED_CONFIG.value: "configuration",
    DataType.SOURCE_CODE.value: "code",
    DataType.VISUAL_EVIDENCE.value: "image",
}
OPEN_REQUEST = frozenset({"requested", "acknowledged"})
UPLOAD_SOURCE_OF = {"text": "paste", "upload": "file_upload"}
SOURCE_KIND_OF = {
    SourceType.CASE_EVIDENCE: "log_file",
    SourceType.TELEMETRY: "log_file",
    SourceType.CASE_HISTORY: "previous_analysis",
}


class AttachmentResult(BaseModel):
    file_id: str
    filename: str
    file_size: int
    processing_status: str
    source_type: str
    upload_source: str
    uploaded_at: datetime
    summary: str | None = None
    failure_reason: str | None = None
    duplicate_of: str | None = None
    duplicate_turn: int | None = None


class SuggestedAction(BaseModel):
    label: str
    type: Literal["DECIDE", "RUN", "EVIDENCE", "FREE_SPEECH"]
    payload: str | None = None
    body: str | None = None
    hints: list[str] = Field(default_factory=list)


class CompatSource(BaseModel):
    type: str
    content: str
    confidence: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProgressTransparency(BaseModel):
    active: bool
    pending_milestone: str | None = None
    milestone_description: str | None = None


class TurnResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: str = "3.1.0"
    agent_response: str
    turn_number: int
    investigation_turn: int | None
    case_state: State
    milestones_completed: list[str]
    progress_made: bool
    attachments_processed: list[AttachmentResult]
    suggested_actions: list[SuggestedAction]
    sources: list[CompatSource]
    progress_transparency: ProgressTransparency | None
    response_type: str
    confidence_score: float | None
    message_id: str
    session_id: str


class TurnJob(BaseModel):
    """A turn that outlived the request, as the copilot polls it: `result` once done,
    `error.message` if it failed."""

    job_id: str
    status: Literal["pending", "running", "completed", "failed"]
    progress: int
    stage: str
    result: TurnResponse | None = None
    error: dict[str, str] | None = None


def attachment(evidence: EvidenceOut, *, duplicate: bool = False) -> AttachmentResult:
    """One attachment as the copilot shows it; `duplicate`: the case already had these
    bytes, and this is that evidence (the copilot says so)."""
    data_type = evidence.data_type.value if evidence.data_type else ""
    return AttachmentResult(
        file_id=evidence.evidence_id,
        filename=evidence.filename,
        file_size=evidence.size_bytes or 0,
        processing_status=evidence.status.value,
        source_type=SOURCE_TYPE_OF.get(data_type, "text"),
        upload_source=UPLOAD_SOURCE_OF.get(evidence.source, "file_upload"),
        uploaded_at=evidence.created_at,
        summary=evidence.summary,
        failure_reason=evidence.failure_reason,
        duplicate_of=evidence.evidence_id if duplicate else None,
    )


def milestones(phase: int) -> list[str]:
    """Every milestone of the phases before `phase` (the phases our investigation has
    finished)."""
    return [m for p, names in MILESTONES_OF_PHASE.items() if p < phase for m in names]


def _actions(response: AgentResponse) -> list[SuggestedAction]:
    actions = [
        SuggestedAction(
            label=command.description or command.command,
            type="RUN",
            payload=command.command,
            hints=[command.safety],
        )
        for command in response.suggested_commands
    ]
    actions += [
        SuggestedAction(
            label=request.label, type="EVIDENCE", body=request.description, payload=None
        )
        for request in response.evidence_requests
        if request.status in OPEN_REQUEST
    ]
    if (
        response.view_state.investigation_progress is None
        and STATE_OF.get(CaseStatus(response.case_status)) == "inquiry"
    ):
        actions.append(
            SuggestedAction(
                label="Investigate this",
                type="DECIDE",
                payload="Please lead an investigation of this problem.",
            )
        )
    return actions


def _source(source: Source) -> CompatSource:
    return CompatSource(
        type=SOURCE_KIND_OF.get(source.type, source.type.value),
        content=source.content,
        confidence=source.confidence,
        metadata={"source_id": source.source_id, **source.metadata},
    )


def turn_response(result: AttachedTurnResult) -> TurnResponse:
    response = result.response
    progress = response.view_state.investigation_progress
    phase = progress.phase if progress is not None else 0
    investigating = progress is not None and progress.engagement_mode == "lead_investigator"
    pending = [r for r in response.evidence_requests if r.status in OPEN_REQUEST]
    return TurnResponse(
        agent_response=response.content,
        turn_number=response.metadata.turn,
        investigation_turn=progress.turn if investigating and progress is not None else None,
        case_state=STATE_OF[result.case_status],
        milestones_completed=milestones(phase),
        progress_made=bool(response.phase_transition or response.new_hypotheses),
        attachments_processed=[
            attachment(e, duplicate=e.evidence_id in result.duplicates) for e in result.attachments
        ],
        suggested_actions=_actions(response),
        sources=[_source(s) for s in response.sources],
        progress_transparency=ProgressTransparency(
            active=investigating,
            pending_milestone=pending[0].label if pending else None,
            milestone_description=pending[0].description if pending else None,
        )
        if progress is not None
        else None,
        response_type=response.response_type.value,
        confidence_score=response.confidence_score,
        message_id=response.message_id,
        session_id=response.session_id,
    )


def moved_response(status: CaseStatus, *, turns: int, session_id: str) -> TurnResponse:
    """The reply to a bare status change (no question, so no agent turn)."""
    return TurnResponse(
        agent_response=f"The case is now {STATE_OF[status]}.",
        turn_number=turns,
        investigation_turn=None,
        case_state=STATE_OF[status],
        milestones_completed=[],
        progress_made=True,
        attachments_processed=[],
        suggested_actions=[],
        sources=[],
        progress_transparency=None,
        response_type="STATUS_UPDATE",
        confidence_score=None,
        message_id="",
        session_id=session_id,
    )
