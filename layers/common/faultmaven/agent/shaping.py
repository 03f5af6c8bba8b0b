"""From a validated answer to the AgentResponse: structured data per response type, the
view state and the actions a client may offer next. Pure functions of what the turn
gathered; no store is read here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from faultmaven.agent.memory import HierarchicalMemory
from faultmaven.agent.models import (
    AgentAnswer,
    AvailableAction,
    CommandSuggestion,
    EvidenceCategory,
    EvidenceRequestOut,
    EvidenceStatus,
    HypothesisSummary,
    InvestigationProgress,
    OODAProgress,
    PlanStep,
    ProgressIndicator,
    ResponseType,
    Source,
    UploadedData,
    ViewState,
    ViewUser,
)
from faultmaven.agent.offline import categories_present
from faultmaven.cases.models import CaseOut, HypothesisOut, SolutionOut
from faultmaven.evidence.models import EvidenceOut

# -- structured_data shapes, one per response type (README, "Response types") ---------


class AnswerData(BaseModel):
    cited_source_ids: list[str]


class PlanData(BaseModel):
    plan: list[PlanStep]


class ClarificationData(BaseModel):
    questions: list[str]


class ConfirmationData(BaseModel):
    action: str | None
    risk_level: str | None
    question: str


class SolutionData(BaseModel):
    root_cause: str | None
    solution_ids: list[str]
    solutions: list[dict[str, Any]]


class NeedsDataData(BaseModel):
    evidence_request_ids: list[str]
    missing_categories: list[str]


class EscalationData(BaseModel):
    reason: str
    summary: str


class DiagramData(BaseModel):
    format: str = "mermaid"
    diagram: str


class TableData(BaseModel):
    format: str = "markdown"
    table: str


class HypothesesData(BaseModel):
    hypotheses: list[HypothesisSummary]


class EvidenceAnalysisData(BaseModel):
    evidence_ids: list[str]
    findings: list[str]


class RootCauseData(BaseModel):
    root_cause: str
    confidence: float
    hypothesis_id: str | None


class CommandsData(BaseModel):
    commands: list[CommandSuggestion]


class KnowledgeData(BaseModel):
    documents: list[dict[str, str]]


class SummaryData(BaseModel):
    summary: str
    hypotheses: list[HypothesisSummary]
    evidence_files: int


class StatusData(BaseModel):
    reason: str
    model_calls: int
    tool_calls: int
    partial: bool = True


class GeneralData(BaseModel):
    reason: str
    validation_errors: list[str] = Field(default_factory=list)


STRUCTURED_DATA: dict[ResponseType, type[BaseModel]] = {
    ResponseType.ANSWER: AnswerData,
    ResponseType.PLAN_PROPOSAL: PlanData,
    ResponseType.CLARIFICATION_REQUEST: ClarificationData,
    ResponseType.CONFIRMATION_REQUEST: ConfirmationData,
    ResponseType.SOLUTION_READY: SolutionData,
    ResponseType.NEEDS_MORE_DATA: NeedsDataData,
    ResponseType.ESCALATION_REQUIRED: EscalationData,
    ResponseType.VISUAL_DIAGRAM: DiagramData,
    ResponseType.COMPARISON_TABLE: TableData,
    ResponseType.HYPOTHESIS_PROPOSAL: HypothesesData,
    ResponseType.EVIDENCE_ANALYSIS: EvidenceAnalysisData,
    ResponseType.ROOT_CAUSE_IDENTIFIED: RootCauseData,
    ResponseType.COMMAND_SUGGESTION: CommandsData,
    ResponseType.KNOWLEDGE_REFERENCE: KnowledgeData,
    ResponseType.INVESTIGATION_SUMMARY: SummaryData,
    ResponseType.STATUS_UPDATE: StatusData,
    ResponseType.GENERAL_RESPONSE: GeneralData,
}


def structured_data(
    answer: AgentAnswer,
    *,
    sources: Sequence[Source],
    hypotheses: Sequence[HypothesisSummary],
    solutions: Sequence[SolutionOut],
    requests: Sequence[EvidenceRequestOut],
    missing: Sequence[str],
    evidence_files: int,
    turn_facts: dict[str, Any],
) -> dict[str, Any]:
    """The `structured_data` of `answer.response_type`, validated by its shape."""
    kind = answer.response_type
    first_command = answer.suggested_commands[0].command if answer.suggested_commands else None
    values: dict[ResponseType, dict[str, Any]] = {
        ResponseType.ANSWER: {"cited_source_ids": [s.source_id for s in sources]},
        ResponseType.PLAN_PROPOSAL: {"plan": answer.plan},
        ResponseType.CLARIFICATION_REQUEST: {"questions": answer.clarifying_questions},
        ResponseType.CONFIRMATION_REQUEST: {
            "action": first_command or (answer.solutions[0].title if answer.solutions else None),
            "risk_level": answer.solutions[0].risk_level.value if answer.solutions else None,
            "question": (answer.clarifying_questions or ["Shall I proceed?"])[0],
        },
        ResponseType.SOLUTION_READY: {
            "root_cause": answer.root_cause,
            "solution_ids": [s.solution_id for s in solutions],
            "solutions": [
                {
                    "solution_id": s.solution_id,
                    "title": s.title,
                    "category": s.category.value,
                    "risk_level": s.risk_level.value,
                    "steps": s.steps,
                }
                for s in solutions
            ],
        },
        ResponseType.NEEDS_MORE_DATA: {
            "evidence_request_ids": [r.request_id for r in requests],
            "missing_categories": list(missing),
        },
        ResponseType.ESCALATION_REQUIRED: {
            "reason": answer.escalation_reason or "The evidence does not settle the problem",
            "summary": answer.content[:1000],
        },
        ResponseType.VISUAL_DIAGRAM: {"diagram": answer.diagram or ""},
        ResponseType.COMPARISON_TABLE: {"table": answer.table or ""},
        ResponseType.HYPOTHESIS_PROPOSAL: {"hypotheses": list(hypotheses)},
        ResponseType.EVIDENCE_ANALYSIS: {
            "evidence_ids": sorted(
                {str(s.metadata["evidence_id"]) for s in sources if s.metadata.get("evidence_id")}
            ),
            "findings": [s.snippet for s in sources][:10],
        },
        ResponseType.ROOT_CAUSE_IDENTIFIED: {
            "root_cause": answer.root_cause or answer.content[:1000],
            "confidence": answer.confidence,
            "hypothesis_id": next((h.hypothesis_id for h in hypotheses), None),
        },
        ResponseType.COMMAND_SUGGESTION: {"commands": answer.suggested_commands},
        ResponseType.KNOWLEDGE_REFERENCE: {
            "documents": [
                {
                    "document_id": str(s.metadata.get("document_id", "")),
                    "title": s.metadata.get("title", ""),
                    "source_id": s.source_id,
                }
                for s in sources
                if s.type.value in ("knowledge_base", "documentation")
            ]
        },
        ResponseType.INVESTIGATION_SUMMARY: {
            "summary": answer.content[:2000],
            "hypotheses": list(hypotheses),
            "evidence_files": evidence_files,
        },
        ResponseType.STATUS_UPDATE: turn_facts,
        ResponseType.GENERAL_RESPONSE: turn_facts,
    }
    shape = STRUCTURED_DATA[kind]
    return shape.model_validate(values[kind]).model_dump(mode="json")


# -- view state -----------------------------------------------------------------------


def uploaded(evidence: Sequence[EvidenceOut]) -> list[UploadedData]:
    return [
        UploadedData(
            id=e.evidence_id,
            name=e.filename,
            type=e.data_type.value if e.data_type else None,
            size_bytes=e.size_bytes,
            upload_timestamp=e.created_at,
            processing_status=e.status.value,
            processing_summary=e.summary,
            insights=list(e.insights),
        )
        for e in evidence
    ]


def evidence_status(
    evidence: Sequence[EvidenceOut], requests: Sequence[EvidenceRequestOut]
) -> EvidenceStatus:
    present = sorted(c.value for c in categories_present(evidence))
    return EvidenceStatus(
        files_total=len(evidence),
        files_processed=sum(1 for e in evidence if e.status.value == "completed"),
        files_failed=sum(1 for e in evidence if e.status.value == "failed"),
        requests_pending=sum(1 for r in requests if r.status in ("requested", "acknowledged")),
        requests_complete=sum(1 for r in requests if r.status in ("received", "validated")),
        categories_present=present,
        categories_missing=[c.value for c in EvidenceCategory if c.value not in present],
    )


def actions(
    *,
    can_write: bool,
    answer: AgentAnswer,
    requests: Sequence[EvidenceRequestOut],
    hypotheses: Sequence[HypothesisOut],
) -> list[AvailableAction]:
    found: list[AvailableAction] = []
    if can_write:
        found.append(
            AvailableAction(
                id="upload_data",
                label="Upload evidence",
                description="Add logs, metrics, traces, configs or screenshots",
            )
        )
        found.append(
            AvailableAction(
                id="ask_follow_up",
                label="Ask a follow-up",
                description="Ask the agent another question about this case",
            )
        )
    for request in [r for r in requests if r.status in ("requested", "acknowledged")][:3]:
        found.append(
            AvailableAction(
                id=f"provide_evidence:{request.request_id}",
                label=f"Provide: {request.label}",
                description=request.description,
            )
        )
    if any(h.status.value in ("active", "captured") for h in hypotheses):
        found.append(
            AvailableAction(
                id="review_hypotheses",
                label="Review hypotheses",
                description="Confirm or refute the open hypotheses",
            )
        )
    if answer.suggested_commands:
        found.append(
            AvailableAction(
                id="run_commands",
                label="Run the suggested commands",
                description="Read-only diagnostics first; paste their output back",
                requires_confirmation=any(c.safety == "caution" for c in answer.suggested_commands),
            )
        )
    if answer.solutions:
        found.append(
            AvailableAction(
                id="apply_solution",
                label="Apply the proposed solution",
                description=answer.solutions[0].title,
                requires_confirmation=True,
            )
        )
    return found


def view_state(
    *,
    session_id: str,
    user: ViewUser,
    case: CaseOut,
    can_write: bool,
    evidence: Sequence[EvidenceOut],
    memory: HierarchicalMemory,
    memory_tokens: int,
    hypotheses: Sequence[HypothesisOut],
    answer: AgentAnswer,
    requests: Sequence[EvidenceRequestOut],
    conversation_count: int,
    ooda: tuple[int, list[str]] | None = None,
    lifecycle: tuple[int, str, str, str, str] = (
        0,
        "intake",
        "consultant",
        "active_incident",
        "intake",
    ),
) -> ViewState:
    status = evidence_status(evidence, requests)
    open_hypotheses = [h for h in hypotheses if h.status.value in ("active", "captured")]
    leading = max(open_hypotheses, key=lambda h: h.likelihood, default=None)
    processed = (
        100 if not evidence else int(100 * status.files_processed / max(1, status.files_total))
    )
    progress = [
        ProgressIndicator(
            phase="evidence",
            status="completed" if processed == 100 else "in_progress",
            description=f"{status.files_processed} of {status.files_total} files analysed",
            percentage=processed,
        ),
        ProgressIndicator(
            phase="hypotheses",
            status="in_progress" if open_hypotheses else "pending",
            description=f"{len(open_hypotheses)} open hypotheses",
        ),
        ProgressIndicator(
            phase="evidence_requests",
            status="in_progress" if status.requests_pending else "completed",
            description=f"{status.requests_pending} evidence requests pending",
        ),
    ]
    steps = ["observe", "orient"]
    if answer.hypotheses or answer.solutions or answer.suggested_commands:
        steps.append("decide")
    iteration = memory.turn
    if ooda is not None:  # an investigation's iteration says which steps it ran
        iteration, steps = ooda[0], list(ooda[1]) or steps
    return ViewState(
        session_id=session_id,
        user=user,
        active_case=case,
        running_summary=memory.running_summary
        or (memory.hot[-1].answer[:300] if memory.hot else ""),
        uploaded_data=uploaded(evidence),
        conversation_count=conversation_count,
        can_upload_data=can_write,
        show_data_upload=can_write,
        needs_more_info=answer.response_type
        in (ResponseType.NEEDS_MORE_DATA, ResponseType.CLARIFICATION_REQUEST)
        or status.requests_pending > 0,
        available_actions=actions(
            can_write=can_write, answer=answer, requests=requests, hypotheses=hypotheses
        ),
        progress_indicators=progress,
        memory_context={
            "turn": memory.turn,
            "hot_turns": len(memory.hot),
            "warm_snapshots": len(memory.warm),
            "cold_facts": len(memory.cold),
            "persistent_insights": len(memory.persistent_insights),
            "tokens": memory_tokens,
            "last_compression_turn": memory.last_compression_turn,
        },
        investigation_progress=InvestigationProgress(
            phase=lifecycle[0],
            phase_name=lifecycle[1],
            engagement_mode=lifecycle[2],
            strategy=lifecycle[3],
            status=lifecycle[4],
            turn=memory.turn,
            hypotheses_total=len(hypotheses),
            hypotheses_active=len(open_hypotheses),
            leading_hypothesis=leading.statement if leading else None,
            leading_likelihood=leading.likelihood if leading else None,
        ),
        ooda_progress=OODAProgress(
            iteration=iteration,
            current_step=steps[-1],
            steps_completed=steps,
        ),
        evidence_status=status,
    )
