"""The copilot's case header (`GET …/cases/{id}/ui`) and uploaded-file lists, from our
case, investigation, hypotheses, solutions and evidence. Three variants keyed by
`state`, as its client reads them; field moves and a translation table only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from faultmaven.cases.models import (
    CaseOut,
    HypothesisOut,
    HypothesisStatus,
    MessageOut,
    MessageType,
    SolutionOut,
    SolutionStatus,
)
from faultmaven.compat.cases import STATE_OF, State, compat_case
from faultmaven.compat.turns import SOURCE_TYPE_OF, milestones
from faultmaven.evidence.models import EvidenceOut
from faultmaven.investigation.models import InvestigationOut
from faultmaven.investigation.phases import EngagementMode, Phase

# The copilot's three stages, from our seven phases.
STAGE_OF_PHASE: dict[Phase, Literal["diagnosis", "mitigation", "treatment"]] = {
    Phase.INTAKE: "diagnosis",
    Phase.BLAST_RADIUS: "diagnosis",
    Phase.TIMELINE: "diagnosis",
    Phase.HYPOTHESIS: "diagnosis",
    Phase.VALIDATION: "diagnosis",
    Phase.SOLUTION: "mitigation",
    Phase.DOCUMENT: "treatment",
}
OPEN_HYPOTHESES = frozenset({HypothesisStatus.CAPTURED, HypothesisStatus.ACTIVE})
SOURCE_OF_UPLOAD = {"text": "paste", "upload": "file_upload"}


class HypothesisBrief(BaseModel):
    hypothesis_id: str
    text: str
    likelihood: float
    evidence_count: int
    state: str


class EvidenceBrief(BaseModel):
    evidence_id: str
    summary: str
    type: str
    category: str
    timestamp: datetime
    collected_at_turn: int
    source_filename: str | None


class Progress(BaseModel):
    current_stage: Literal["diagnosis", "mitigation", "treatment"]
    completed_indicators: list[str]
    completed_stage_gates: list[str]
    total_evidence: int
    active_hypotheses: int
    turns_without_progress: int


class CaseUI(BaseModel):
    """Every variant's fields; the variant's own sections are set for its state only."""

    case_id: str
    title: str
    state: State
    status: str
    created_at: datetime
    updated_at: datetime
    current_turn: int
    investigation_turn: int | None
    uploaded_files_count: int
    valid_next_states: list[State]
    disposition_eligibility: dict[str, str] | None = None
    problem_statement: str | None = None
    # inquiry
    inquiry: dict[str, Any] | None = None
    # investigating
    agent_status: str | None = None
    progress: Progress | None = None
    active_hypotheses: list[HypothesisBrief] | None = None
    latest_evidence: list[EvidenceBrief] | None = None
    next_actions: list[str] | None = None
    working_conclusion: dict[str, Any] | None = None
    progress_transparency: dict[str, Any] | None = None
    # resolved / closed
    resolved_at: datetime | None = None
    root_cause: dict[str, Any] | None = None
    solution_applied: dict[str, Any] | None = None
    resolution_summary: dict[str, Any] | None = None
    verification_status: dict[str, Any] | None = None
    reports_available: list[dict[str, Any]] | None = None


class UploadedFile(BaseModel):
    file_id: str
    filename: str
    size_bytes: int
    size_display: str
    source_type: str
    analysis_status: str
    uploaded_at: datetime
    uploaded_at_turn: int
    summary: str | None
    evidence_count: int
    upload_source: str
    content_type: str


class UploadedFiles(BaseModel):
    files: list[UploadedFile]
    total_count: int
    limit: int
    offset: int


class UploadedFileDetail(UploadedFile):
    derived_evidence: list[dict[str, Any]] = Field(default_factory=list)


def size_display(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MB"


def turn_of_upload(evidence: EvidenceOut, questions: Sequence[MessageOut]) -> int:
    """The turn a file came with: a turn's question is stored after its attachments, so a
    file belongs to the turn after the questions asked before it."""
    return 1 + sum(q.created_at <= evidence.created_at for q in questions)


def uploaded_file(evidence: EvidenceOut, questions: Sequence[MessageOut]) -> UploadedFile:
    size = evidence.size_bytes or 0
    return UploadedFile(
        file_id=evidence.evidence_id,
        filename=evidence.filename,
        size_bytes=size,
        size_display=size_display(size),
        source_type=SOURCE_OF_UPLOAD.get(evidence.source, "file_upload"),
        analysis_status=evidence.status.value,
        uploaded_at=evidence.created_at,
        uploaded_at_turn=turn_of_upload(evidence, questions),
        summary=evidence.summary,
        evidence_count=1 if evidence.status.value == "completed" else 0,
        upload_source=SOURCE_OF_UPLOAD.get(evidence.source, "file_upload"),
        content_type=evidence.content_type,
    )


def file_detail(
    evidence: EvidenceOut, questions: Sequence[MessageOut], hypotheses: Sequence[HypothesisOut]
) -> UploadedFileDetail:
    base = uploaded_file(evidence, questions)
    derived = []
    if evidence.status.value == "completed":
        related = [
            h.hypothesis_id
            for h in hypotheses
            if any(ref.startswith(evidence.evidence_id) for ref in h.supporting_evidence)
            or any(ref.startswith(evidence.evidence_id) for ref in h.refuting_evidence)
        ]
        derived.append(
            {
                "evidence_id": evidence.evidence_id,
                "summary": evidence.summary or "",
                "category": SOURCE_TYPE_OF.get(
                    evidence.data_type.value if evidence.data_type else "", "text"
                ),
                "source_type": base.source_type,
                "collected_at_turn": base.uploaded_at_turn,
                "insights": evidence.insights,
                "related_hypothesis_ids": related,
            }
        )
    return UploadedFileDetail(**base.model_dump(), derived_evidence=derived)


def questions_of(messages: Sequence[MessageOut]) -> list[MessageOut]:
    return [m for m in messages if m.type is MessageType.USER_QUERY]


def _hypothesis(h: HypothesisOut) -> HypothesisBrief:
    return HypothesisBrief(
        hypothesis_id=h.hypothesis_id,
        text=h.statement,
        likelihood=h.likelihood,
        evidence_count=len(h.supporting_evidence) + len(h.refuting_evidence),
        state=h.status.value,
    )


def case_ui(
    case: CaseOut,
    investigation: InvestigationOut,
    hypotheses: Sequence[HypothesisOut],
    solutions: Sequence[SolutionOut],
    evidence: Sequence[EvidenceOut],
    *,
    turns: int,
    questions: Sequence[MessageOut],
    files: int,
) -> CaseUI:
    """`evidence` is the first page of the case's files, `files` how many it has."""
    row = compat_case(case, current_turn=turns)
    state = STATE_OF[case.status]
    leading = investigation.engagement_mode is EngagementMode.LEAD_INVESTIGATOR
    phase = Phase(investigation.phase)
    problem = investigation.problem_statement or case.description or None
    ui = CaseUI(
        case_id=case.case_id,
        title=case.title,
        state=state,
        status=case.status.value,
        created_at=case.created_at,
        updated_at=case.updated_at,
        current_turn=turns,
        investigation_turn=turns if leading else None,
        uploaded_files_count=files,
        valid_next_states=row.valid_next_states,
        problem_statement=problem,
    )
    if state == "inquiry":
        ui.inquiry = {
            "decided_to_investigate": leading,
            "inquiry_turns": turns,
            "problem_statement_confirmed": bool(investigation.consented_at),
            "proposed_problem_statement": problem,
        }
        return ui
    if state == "investigating":
        open_ones = [h for h in hypotheses if h.status in OPEN_HYPOTHESES]
        done = [e for e in evidence if e.status.value == "completed"]
        ui.agent_status = investigation.status
        ui.progress = Progress(
            current_stage=STAGE_OF_PHASE[phase],
            completed_indicators=milestones(phase),
            completed_stage_gates=[p.name.lower() for p in Phase if p < phase],
            total_evidence=len(done),
            active_hypotheses=len(open_ones),
            turns_without_progress=min((h.turns_without_progress for h in open_ones), default=0),
        )
        ui.active_hypotheses = [_hypothesis(h) for h in open_ones]
        ui.latest_evidence = [
            EvidenceBrief(
                evidence_id=e.evidence_id,
                summary=e.summary or "",
                type=e.data_type.value if e.data_type else "unknown",
                category=SOURCE_TYPE_OF.get(e.data_type.value if e.data_type else "", "text"),
                timestamp=e.completed_at or e.updated_at,
                collected_at_turn=turn_of_upload(e, questions),
                source_filename=e.filename,
            )
            for e in done[-5:]
        ]
        ui.next_actions = list(investigation.requirements.missing)
        if investigation.working_conclusion:
            conclusion = investigation.working_conclusion
            ui.working_conclusion = {
                "summary": str(conclusion.get("statement") or conclusion.get("summary") or ""),
                "confidence": float(conclusion.get("confidence") or 0.0),
                "last_updated": investigation.updated_at,
            }
        ui.progress_transparency = {
            "active": leading,
            "pending_milestone": investigation.requirements.missing[0]
            if investigation.requirements.missing
            else None,
            "milestone_description": investigation.requirements.phase_name,
        }
        return ui
    validated = [h for h in hypotheses if h.status is HypothesisStatus.VALIDATED]
    applied = [s for s in solutions if s.status is SolutionStatus.APPLIED] or list(solutions)
    ui.resolved_at = case.resolved_at or case.closed_at or case.updated_at
    ui.root_cause = {
        "root_cause_id": validated[0].hypothesis_id if validated else None,
        "description": validated[0].statement if validated else "No root cause was confirmed",
        "category": validated[0].category.value if validated else None,
        "severity": None,
        "cause_assurance": "confirmed" if validated else "no_root",
        "cause_overclaim": False,
    }
    ui.solution_applied = {  # the client reads it on every resolved or closed case
        "description": applied[-1].title if applied else "No solution was recorded",
        "applied_at": applied[-1].applied_at if applied else None,
        "applied_by": applied[-1].created_by if applied else None,
    }
    started = case.created_at
    ended = ui.resolved_at
    ui.resolution_summary = {
        "evidence_collected": len([e for e in evidence if e.status.value == "completed"]),
        "hypotheses_tested": len([h for h in hypotheses if h.status not in OPEN_HYPOTHESES]),
        "total_duration_minutes": max(0, int((ended - started).total_seconds() // 60)),
        "milestones_completed": len(milestones(phase)),
    }
    ui.verification_status = {
        "verified": case.status.value in ("validated", "documenting"),
        "verification_method": "case lifecycle",
        "details": case.status.value,
    }
    ui.reports_available = []  # reports are not generated by this backend yet
    return ui
