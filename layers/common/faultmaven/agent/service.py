"""One chat turn: a question in, a cited answer out, within API Gateway's 29 s.

    authorize (session is the caller's; the caller may write the case)
    → redact the question → retrieve (knowledge search over case, user and global KBs)
    → build the context within the token budget (context.py)
    → bounded tool loop: the model calls built-in tools or `give_answer` (tools.py)
    → validate the answer (one repair) · drop citations of anything not shown
    → hypotheses and solutions through the case service · both messages stored
    → memory updated (compressed every few turns) → AgentResponse 3.1.0

Each case's chat is one history session (`hist_<case hex>`), each turn a stage with the
context report, and each model or tool call an interaction. When the turn's deadline
comes before an answer, the turn answers anyway (STATUS_UPDATE) with what the evidence
already shows; when the answer will not validate, with the model's own text
(GENERAL_RESPONSE). A provider that is down is a 503 with Retry-After, a spent budget a
402: nothing is stored then, so the client's retry asks again cleanly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from faultmaven.agent import memory as mem
from faultmaven.agent import offline, shaping
from faultmaven.agent.classification import EvidenceClassifier
from faultmaven.agent.context import (
    BuiltContext,
    SourceRegistry,
    case_unit,
    evidence_units,
    hypotheses_unit,
    knowledge_units,
    pack,
)
from faultmaven.agent.models import (
    AcquisitionGuidance,
    AgentAnswer,
    AgentHealth,
    AgentResponse,
    EvidenceRequestOut,
    HypothesisSummary,
    QueryRequest,
    ResponseMetadata,
    ResponseType,
    Source,
    ViewUser,
)
from faultmaven.agent.prompts import ANSWER_TOOL, COMPRESSION_SYSTEM, SYSTEM_PROMPT
from faultmaven.agent.tools import BUILT_IN, TELEMETRY, TurnTools, compact_schema, live_tools
from faultmaven.cases.access import Access
from faultmaven.cases.models import (
    CaseOut,
    HypothesisCreate,
    HypothesisOut,
    HypothesisUpdate,
    ParticipantRole,
    SolutionCreate,
    SolutionOut,
)
from faultmaven.core.errors import AppError, ConflictError, LLMUnavailableError
from faultmaven.core.llm import (
    LLMRequest,
    Message,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from faultmaven.core.logging import logger
from faultmaven.core.pagination import PageRequest
from faultmaven.core.terms import terms
from faultmaven.core.tokens import estimate_input_tokens, estimate_text_tokens
from faultmaven.core.vectors import Scope
from faultmaven.investigation.models import (
    ConsentRequest,
    EvidenceRequestRecord,
    IterationReport,
    NewEvidenceRequest,
)
from faultmaven.investigation.phases import LIVE_TOOLS, PHASE_TOOLS, Phase
from faultmaven.knowledge.models import SearchHit, SearchRequest
from faultmaven.llm.redaction import redact_text
from faultmaven.preprocessing.redact import redact

if TYPE_CHECKING:
    from faultmaven.auth.principal import Principal
    from faultmaven.cases.service import AgentCaseView, CaseService
    from faultmaven.clusters.service import ClusterService
    from faultmaven.core.ports import Database
    from faultmaven.evidence.models import EvidenceOut
    from faultmaven.evidence.service import EvidenceService
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.investigation.classify import EvidenceClassification
    from faultmaven.investigation.service import InvestigationService
    from faultmaven.knowledge.service import KnowledgeService
    from faultmaven.llm.retry import Deadline
    from faultmaven.llm.service import Completion, LanguageModels
    from faultmaven.sessions.service import SessionService

AGENT_TYPE = "chat"
CHAIN_ID = "agent-chat-v1"
CHAIN_DEFINITION: dict[str, Any] = {
    "chain_id": CHAIN_ID,
    "mode": "consultant",
    "stages": [{"stage_id": "turn-<n>", "agent": "consultant"}],
}
# Below this much time left, no new model round starts.
MIN_ROUND_SECONDS = 2.5
# A tool result is never cut below this, however many calls share the round.
MIN_TOOL_RESULT_TOKENS = 300
# Below this much time left, a tool the model asked for is not started.
MIN_TOOL_SECONDS = 1.0
# Kept back from the model calls for storing the turn and answering.
RESERVE_SECONDS = 1.5
SEARCH_QUERY_CHARS = 1_000
# Retrieval asks for twice the chunks it keeps, then keeps at most this many per file or
# document: three chunks of one metrics dump must not push out the one log line that
# matters.
PER_DOCUMENT = 2
MAX_SEARCH_K = 50
_HANDLE = re.compile(r"\[(S\d{1,3})\]")


@dataclass(frozen=True)
class AgentConfig:
    turn_deadline_seconds: float = 25.0
    context_budget_tokens: int = 8_000
    memory_budget_tokens: int = 1_200
    max_rounds: int = 4
    max_tool_calls_per_round: int = 4
    max_tool_calls_per_turn: int = 10
    tool_result_tokens: int = 1_500
    max_answer_tokens: int = 2_048
    retrieval_k: int = 8
    compression_every: int = 3
    # The most one live telemetry query may take inside a turn (its deadline is ~25 s).
    telemetry_seconds: float = 20.0


@dataclass
class LoopResult:
    answer: AgentAnswer | None = None
    raw_text: str = ""
    completions: list[Completion] = field(default_factory=list)
    validation_errors: list[str] = field(default_factory=list)
    deadline_hit: bool = False
    offline: bool = False


@dataclass(frozen=True)
class Autonomy:
    """A turn the autonomous investigation takes by itself (a state of its state
    machine): no user session is involved, the question is the investigation's own
    instruction (stored as a system event), and the turn is a stage of the
    investigation's history session instead of the case's chat session."""

    history_id: str
    stage_id: str
    stage_name: str
    run_label: str  # stands in for the chat session id in the answer and its messages


@dataclass
class Gathered:
    """What the turn read before the first model call."""

    view: AgentCaseView
    evidence: list[EvidenceOut]
    hits: list[SearchHit]
    registry: SourceRegistry
    context: BuiltContext
    memory: mem.HierarchicalMemory
    memory_text: str
    lead: bool = False
    phase: Phase | None = None  # a lead turn's phase: it decides the tools offered
    offered: frozenset[str] = frozenset()  # the tools this turn offers the model


LEAD_FIELDS = (
    "anomaly_frame",
    "timeline",
    "working_conclusion",
    "focus_hypothesis_id",
    "fix_verified",
)
LEAD_DEFS = ("AnomalyFrameDraft", "TimelineDraft", "WorkingConclusion")


def answer_tool(*, lead: bool = True) -> ToolSpec:
    schema = compact_schema(AgentAnswer.model_json_schema())
    if not lead:
        for name in LEAD_FIELDS:
            schema["properties"].pop(name, None)
        for name in LEAD_DEFS:
            schema.get("$defs", {}).pop(name, None)
    return ToolSpec(
        name=ANSWER_TOOL,
        description="Give the turn's answer to the engineer. Call it exactly once, last.",
        input_schema=schema,
    )


class AgentService:
    def __init__(
        self,
        *,
        database: Database,
        cases: CaseService,
        sessions: SessionService,
        evidence: EvidenceService,
        knowledge: KnowledgeService,
        investigation: InvestigationService,
        models: Callable[[], LanguageModels],
        recorder: Callable[[], HistoryRecorder],
        config: AgentConfig,
        clusters: Callable[[], ClusterService] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._db = database
        self._clusters = clusters
        self._cases = cases
        self._sessions = sessions
        self._evidence = evidence
        self._knowledge = knowledge
        self._investigation = investigation
        self._models = models
        self._recorder = recorder
        self._config = config
        self._clock = clock
        self._classifier = EvidenceClassifier(
            cases=cases, investigation=investigation, models=models, recorder=recorder
        )
        # Consultant turns are offered the answer without the investigation's fields (the
        # definitions are paid on every call, and those fields would stay empty); a lead
        # turn is offered the tools of its phase.
        consultant = [*(tool.spec() for tool in BUILT_IN), answer_tool(lead=False)]
        lead_answer = answer_tool(lead=True)
        self._tools: dict[Phase | None, list[ToolSpec]] = {None: consultant}
        for phase, names in PHASE_TOOLS.items():
            self._tools[phase] = [
                *(tool.spec() for tool in BUILT_IN if tool.name in names),
                lead_answer,
            ]
        self._live_specs = {tool.name: tool.spec() for tool in TELEMETRY}

    def _specs(self, phase: Phase | None, offered: frozenset[str] | None) -> list[ToolSpec]:
        """The phase's built-in tools, the live telemetry tools this turn may use (a
        registered cluster answers them), and the answer tool last."""
        base = self._tools[phase]
        live = [spec for name, spec in self._live_specs.items() if offered and name in offered]
        return [*base[:-1], *live, base[-1]] if live else base

    def _offered(self, phase: Phase | None) -> frozenset[str]:
        clusters = self._clusters() if self._clusters is not None else None
        live = live_tools(clusters)
        if phase is None:
            return frozenset(t.name for t in BUILT_IN) | live
        return frozenset(n for n in PHASE_TOOLS[phase] if n not in LIVE_TOOLS or n in live)

    # -- health ----------------------------------------------------------------------------
    def health(self) -> AgentHealth:
        models = self._models()
        providers = models.providers
        return AgentHealth(
            status="ok",
            provider=providers[0].provider,
            model=providers[0].model,
            offline=models.offline,
            fallback=[p.provider for p in providers[1:]],
        )

    def classify_upload(
        self,
        uploader: Principal | None,
        *,
        case_id: str,
        evidence_id: str,
        filename: str,
        data_type: str | None,
        summary: str,
        insights: Sequence[str],
    ) -> EvidenceClassification | None:
        """A processed upload against the open requests and hypotheses (classification.py)."""
        return self._classifier.upload(
            uploader,
            case_id=case_id,
            evidence_id=evidence_id,
            filename=filename,
            data_type=data_type,
            summary=summary,
            insights=insights,
        )

    def forget_case(self, case_id: str) -> int:
        """A deleted case takes the agent's memory of it along (it quotes the case)."""
        from faultmaven.agent import store

        with self._db.session() as session:
            return store.delete(session, case_id)

    # -- the turn --------------------------------------------------------------------------
    def turn(
        self,
        principal: Principal,
        case_id: str,
        body: QueryRequest,
        *,
        autonomy: Autonomy | None = None,
    ) -> AgentResponse:
        from faultmaven.llm.retry import Deadline

        started = self._clock()
        deadline = Deadline.within(self._config.turn_deadline_seconds)
        session_id = (
            autonomy.run_label
            if autonomy is not None
            else self._sessions.get(principal, body.session_id).session_id
        )
        if body.consent_to_investigate:
            self._investigation.consent(
                principal,
                case_id,
                ConsentRequest(problem_statement=mem.cap(redact(body.query).text, 2000)),
            )
        view = self._cases.agent_view(principal, case_id, needed=Access.WRITE)
        if view.closed:
            raise ConflictError("The case is archived and read-only", error_code="CASE_CLOSED")
        models = self._models()
        recorder = self._recorder()
        cleaned = redact(body.query)
        query = cleaned.text
        memory = self._load_memory(case_id)
        turn_number = self._reserve_turn(case_id)
        if autonomy is not None:
            history_id = autonomy.history_id
        else:
            history_id = recorder.open_session(
                session_id=f"hist_{case_id.split('_', 1)[-1]}",
                agent_type=AGENT_TYPE,
                chain_id=CHAIN_ID,
                chain_definition=CHAIN_DEFINITION,
                case_id=case_id,
                owner_id=view.case.owner_id,
                metadata={"mode": "consultant"},
            )
        with recorder.stage(
            history_id,
            stage_id=autonomy.stage_id if autonomy else f"turn-{turn_number}",
            stage_name=autonomy.stage_name if autonomy else f"Chat turn {turn_number}",
            agent="lead_investigator" if autonomy else "consultant",
        ) as stage:
            gathered = self._gather(
                principal, view, query, memory, recorder, history_id, stage.execution_id
            )
            tools = TurnTools(
                principal=principal,
                case_id=case_id,
                cases=self._cases,
                evidence=self._evidence,
                knowledge=self._knowledge,
                recorder=recorder,
                registry=gathered.registry,
                history_session_id=history_id,
                stage_execution_id=stage.execution_id,
                result_tokens=self._config.tool_result_tokens,
                offered=gathered.offered,
                clusters=self._clusters() if self._clusters is not None else None,
                telemetry_seconds=self._config.telemetry_seconds,
            )
            loop = self._loop(
                models,
                gathered.context,
                tools,
                case_id,
                history_id,
                stage.execution_id,
                deadline,
                turn_number,
                phase=gathered.phase,
            )
            answer, fallback_reason, turn_type = self._settle(loop, gathered, query, tools)
            answer = _redacted(answer)
            sources, hallucinated = self._citations(answer, gathered.registry)
            # Against the requests open before this turn asks for more; applied after the
            # iteration is recorded, so a run it resumes sees this turn's phase move.
            classified = (
                None
                if autonomy is not None  # the investigation's own instruction answers nothing
                else self._classifier.classify_message(
                    case_id, query, from_model=answer.evidence_classification
                )
            )
            created, hypotheses = self._apply_hypotheses(
                principal, case_id, answer, gathered.view.hypotheses, gathered.registry
            )
            solutions = self._apply_solutions(principal, case_id, answer, hypotheses)
            requests = self._store_requests(principal, case_id, answer, hypotheses, turn_number)
            progress = self._investigation.record_iteration(
                principal,
                case_id,
                _iteration_report(
                    answer, turn_number, created, requests, view.hypotheses, hypotheses
                ),
                hypotheses_before={h.hypothesis_id: h.likelihood for h in view.hypotheses},
                hypotheses_after=hypotheses,
                solution_statuses=[s.status.value for s in [*view.solutions, *solutions]],
            )
            if classified is not None:
                self._classifier.apply_message(
                    case_id, classified, message_label=f"chat turn {turn_number}"
                )
            if progress is not None and progress.phase_to != progress.phase_from:
                with recorder.stage(
                    history_id,
                    stage_id=f"phase-{progress.phase_from}-to-{progress.phase_to}",
                    stage_name=f"Phase {progress.phase_from} → {progress.phase_to}",
                    agent="investigation",
                ) as move:
                    move.output = progress.model_dump(mode="json")
            if hallucinated:
                logger.warning(
                    "agent cited sources it was not shown",
                    extra={"case_id": case_id, "count": len(hallucinated)},
                )
            usage = _usage(loop.completions)
            stage.output = {
                "context": gathered.context.report(),
                "response_type": turn_type.value,
                "cited": [s.source_id for s in sources],
                "hallucinated_citations": hallucinated,
                "model_calls": len(loop.completions),
                "tool_calls": tools.calls,
                "deadline_hit": loop.deadline_hit,
                "fallback_reason": fallback_reason,
                "validation_errors": loop.validation_errors[:10],
                "hypotheses_created": [h.hypothesis_id for h in created],
                "evidence_classification": classified.model_dump(mode="json")
                if classified
                else None,
                "investigation": progress.model_dump(mode="json") if progress else None,
            }
        last = loop.completions[-1].response if loop.completions else None
        provider = last.provider if last else models.primary.provider
        model = last.model if last else models.primary.model
        is_offline = loop.offline or models.offline or bool(last and last.metadata.get("offline"))
        elapsed_ms = int((self._clock() - started) * 1000)
        metadata = ResponseMetadata(
            confidence=answer.confidence,
            input_tokens=usage["input"],
            output_tokens=usage["output"],
            cache_read_input_tokens=usage["cache_read"],
            cache_creation_input_tokens=usage["cache_write"],
            total_tokens=usage["input"] + usage["output"],
            cost_usd=round(sum(c.cost_usd for c in loop.completions), 6),
            provider=provider,
            model=model,
            offline=is_offline,
            processing_time_ms=elapsed_ms,
            history_session_id=history_id,
            turn=turn_number,
            model_calls=len(loop.completions),
            tool_calls=tools.calls,
            context_tokens=gathered.context.tokens,
            dropped_context=gathered.context.dropped,
            deadline_hit=loop.deadline_hit,
            fallback_reason=fallback_reason,
        )
        answer_text = answer.content
        question, reply = self._cases.record_turn(
            principal,
            case_id,
            query=query,
            asked_by_system=autonomy is not None,
            query_metadata={
                "session_id": session_id,
                "turn": turn_number,
                "priority": body.priority,
                "context": _clean_json(body.context or {}),
                "asked_at": body.timestamp.isoformat() if body.timestamp else None,
                "redactions": cleaned.counts,
            },
            answer=answer_text,
            answer_metadata={
                "turn": turn_number,
                "response_type": turn_type.value,
                "confidence": answer.confidence,
                "processing_time_ms": elapsed_ms,
                "sources": [s.source_id for s in sources],
                "history_session_id": history_id,
                "provider": provider,
                "model": model,
                "offline": is_offline,
                "tokens": usage["input"] + usage["output"],
                "cost_usd": metadata.cost_usd,
                "author": "agent",
            },
        )
        updated = self._remember(
            case_id,
            mem.TurnRecord(
                turn=turn_number,
                at=reply.created_at,
                query=query,
                answer=answer_text,
                response_type=turn_type.value,
                cited=[s.source_id for s in sources],
                hypotheses=[h.statement for h in created],
            ),
            {s.source_id: s.snippet for s in sources},
            models,
            history_id,
            deadline,
        )
        if autonomy is None:  # the investigation's session closes when its run ends
            recorder.close_session(
                history_id, status="completed", final_analysis=answer_text[:2000]
            )
        # The whole turn, storing and the memory's compression included.
        metadata = metadata.model_copy(
            update={"processing_time_ms": int((self._clock() - started) * 1000)}
        )
        memory_text = mem.render(updated, self._config.memory_budget_tokens)
        summaries = [_summary(h, created) for h in hypotheses]
        all_hypotheses = hypotheses
        evidence = gathered.evidence
        case_requests = _request_outs(
            self._investigation.requests_of(case_id, PageRequest(page=1, page_size=100)).items
        )
        missing = shaping.evidence_status(evidence, case_requests).categories_missing
        can_write = view.role is not ParticipantRole.VIEWER
        answer_for_view = answer.model_copy(update={"response_type": turn_type})
        phase, mode, strategy, status = self._investigation.lifecycle_of(case_id)
        return AgentResponse(
            response_type=turn_type,
            content=answer_text,
            session_id=session_id,
            case_id=case_id,
            message_id=reply.message_id,
            query_message_id=question.message_id,
            confidence_score=answer.confidence,
            sources=sources,
            structured_data=shaping.structured_data(
                answer_for_view,
                sources=sources,
                hypotheses=[s for s in summaries if s.created_this_turn] or summaries,
                solutions=solutions,
                requests=requests,
                missing=missing,
                evidence_files=len(evidence),
                turn_facts={
                    "reason": fallback_reason or "",
                    "model_calls": len(loop.completions),
                    "tool_calls": tools.calls,
                    "validation_errors": loop.validation_errors[:10],
                },
            ),
            next_action_hint=_hint(answer, requests),
            view_state=shaping.view_state(
                session_id=session_id,
                user=ViewUser(user_id=principal.user_id),
                case=view.case,
                can_write=can_write,
                evidence=evidence,
                memory=updated,
                memory_tokens=estimate_text_tokens(memory_text),
                hypotheses=all_hypotheses,
                answer=answer_for_view,
                requests=case_requests,
                conversation_count=updated.turn,
                lifecycle=(int(phase), phase.name.lower(), mode.value, strategy.value, status),
                ooda=None
                if progress is None
                else (
                    int(progress.iteration["number"]),
                    list(progress.iteration["steps_completed"]),
                ),
            ),
            plan=answer.plan if turn_type is ResponseType.PLAN_PROPOSAL and answer.plan else None,
            evidence_requests=requests,
            investigation_mode=strategy.value,
            case_status=view.case.status.value,
            suggested_commands=answer.suggested_commands,
            new_hypotheses=[s for s in summaries if s.created_this_turn],
            working_conclusion=answer.working_conclusion,
            phase_transition=None
            if progress is None
            else {
                "from": progress.phase_from,
                "to": progress.phase_to,
                "outcome": progress.outcome,
                "reason": progress.reason,
                "stalled": progress.stalled,
                "anchored_on": progress.anchored_on,
            },
            metadata=metadata,
        )

    # -- gathering -------------------------------------------------------------------------
    def _gather(
        self,
        principal: Principal,
        view: AgentCaseView,
        query: str,
        memory: mem.HierarchicalMemory,
        recorder: HistoryRecorder,
        history_id: str,
        stage_execution_id: str,
    ) -> Gathered:
        from faultmaven.history.recorder import ToolCallRecord, now_us

        case_id = view.case.case_id
        evidence = list(
            self._evidence.list_for_case(
                principal, case_id, PageRequest(page=1, page_size=100)
            ).items
        )
        search_text = f"{query[:SEARCH_QUERY_CHARS]}"
        started = time.perf_counter()
        started_us = now_us()
        hits: list[SearchHit] = []
        error: str | None = None
        try:
            found = self._knowledge.search(
                principal,
                SearchRequest(
                    query=search_text,
                    scopes=[Scope.CASE, Scope.USER, Scope.GLOBAL],
                    case_id=case_id,
                    k=min(MAX_SEARCH_K, self._config.retrieval_k * 2),
                ),
            )
            hits = _diverse(list(found.items), self._config.retrieval_k)
        except AppError as exc:
            # Without retrieval the turn still answers from the digest; the history says so.
            error = f"{exc.error_code}: {exc.message}"
            logger.warning("agent retrieval failed", extra={"error_code": exc.error_code})
        recorder.record_tool(
            ToolCallRecord(
                session_id=history_id,
                stage_execution_id=stage_execution_id,
                step_description="context retrieval (before the first model call)",
                server_name="faultmaven",
                tool_name="search_knowledge",
                arguments={
                    "query": search_text,
                    "scopes": ["case", "user", "global"],
                    "k": self._config.retrieval_k,
                },
                result={
                    "hits": [
                        {
                            "source_id": f"{h.document_id}#{h.chunk_id}",
                            "title": h.title,
                            "scope": h.scope.value,
                            "score": h.score,
                        }
                        for h in hits
                    ]
                },
                available_tools={"tools": [t.name for t in BUILT_IN]},
                started_at_us=started_us,
                duration_ms=int((time.perf_counter() - started) * 1000),
                success=error is None,
                error_message=error,
            )
        )
        registry = SourceRegistry()
        briefing = self._investigation.briefing(principal, case_id)
        phase = self._investigation.lifecycle_of(case_id)[0] if briefing is not None else None
        offered = self._offered(phase)
        memory_text = mem.render(memory, self._config.memory_budget_tokens)
        fixed = estimate_input_tokens(
            LLMRequest(
                system=SYSTEM_PROMPT,
                messages=[],
                tools=self._specs(phase, offered),
                max_tokens=1,
            )
        )
        query_terms = terms(query)
        context = pack(
            fixed_tokens=fixed,
            budget_tokens=self._config.context_budget_tokens,
            query=query,
            case=case_unit(view.case),
            memory=memory_text,
            hypotheses=hypotheses_unit(
                view.hypotheses,
                view.solutions,
                [
                    f"{r.request_id} [{r.status.value}, {r.category.value}, priority "
                    f"{r.priority}] {r.label}"
                    for r in self._investigation.requests_of(
                        case_id, PageRequest(page=1, page_size=10), open_only=True
                    ).items
                ],
            ),
            evidence=evidence_units(registry, evidence, query_terms),
            knowledge=knowledge_units(registry, hits),
            registry=registry,
            extra=briefing or "",
        )
        return Gathered(
            view,
            evidence,
            hits,
            registry,
            context,
            memory,
            memory_text,
            lead=briefing is not None,
            phase=phase,
            offered=offered,
        )

    # -- the loop --------------------------------------------------------------------------
    def _loop(
        self,
        models: LanguageModels,
        context: BuiltContext,
        tools: TurnTools,
        case_id: str,
        history_id: str,
        stage_execution_id: str,
        deadline: Deadline,
        turn_number: int,
        phase: Phase | None = None,
    ) -> LoopResult:
        from faultmaven.llm.retry import Deadline as DeadlineType
        from faultmaven.llm.service import CallScope

        result = LoopResult()
        messages: list[Message] = [Message.user(context.text)]
        calls_deadline = DeadlineType(deadline.at - RESERVE_SECONDS, deadline.clock)
        rounds = 0
        repaired = False
        must_answer = models.offline
        while rounds < self._config.max_rounds + (1 if repaired else 0):
            rounds += 1
            if calls_deadline.remaining() < MIN_ROUND_SECONDS:
                result.deadline_hit = True
                return result
            final = (
                must_answer
                or rounds >= self._config.max_rounds
                or calls_deadline.remaining() < 2 * MIN_ROUND_SECONDS
            )
            request = LLMRequest(
                system=SYSTEM_PROMPT,
                messages=messages,
                tools=self._specs(phase, tools.offered),
                tool_choice=ToolChoice(type="tool", name=ANSWER_TOOL)
                if final
                else ToolChoice(type="any"),
                max_tokens=self._config.max_answer_tokens,
                temperature=None,
            )
            try:
                completion = models.complete(
                    request,
                    scope=CallScope(
                        step=f"chat turn {turn_number}, round {rounds}",
                        case_id=case_id,
                        session_id=history_id,
                        stage_execution_id=stage_execution_id,
                    ),
                    deadline=calls_deadline,
                )
            except LLMUnavailableError as exc:
                reason = (
                    (exc.details or {}).get("reason") if isinstance(exc.details, dict) else None
                )
                if reason == "deadline" or calls_deadline.remaining() < MIN_ROUND_SECONDS:
                    result.deadline_hit = True
                    return result
                raise
            result.completions.append(completion)
            if completion.offline:
                result.offline = True
                return result
            response = completion.response
            if response.text:
                result.raw_text = response.text
            uses = response.tool_uses
            answer_use = next((u for u in uses if u.name == ANSWER_TOOL), None)
            if answer_use is not None:
                try:
                    result.answer = _validated_answer(answer_use.input)
                    return result
                except ValidationError as exc:
                    result.validation_errors = _problems(exc)
                    content = answer_use.input.get("content")
                    if isinstance(content, str) and content.strip():
                        result.raw_text = content
                    if repaired:
                        return result
                    repaired = True
                    must_answer = True
            if not uses:
                if repaired:
                    return result
                repaired = True
                must_answer = True
                messages = [
                    *messages,
                    Message.assistant(response.text or "."),
                    Message.user(
                        f"Give your answer by calling {ANSWER_TOOL}; put the text above in "
                        "its content field."
                    ),
                ]
                continue
            results: list[ToolResultBlock] = []
            # The round's calls share its tool budget; beyond the caps they are refused.
            runnable = [u for u in uses if u.name != ANSWER_TOOL][
                : self._config.max_tool_calls_per_round
            ]
            tools.result_tokens = max(
                MIN_TOOL_RESULT_TOKENS, self._config.tool_result_tokens // max(1, len(runnable))
            )
            for use in uses:
                if use.name == ANSWER_TOOL:
                    results.append(
                        ToolResultBlock(
                            tool_use_id=use.id,
                            content="The input did not validate:\n"
                            + "\n".join(result.validation_errors)
                            + f"\nCall {ANSWER_TOOL} again, fixed.",
                            is_error=True,
                        )
                    )
                elif answer_use is not None:
                    results.append(
                        ToolResultBlock(
                            tool_use_id=use.id,
                            content="Not run: an answer was given in the same message.",
                            is_error=True,
                        )
                    )
                elif use not in runnable or tools.calls >= self._config.max_tool_calls_per_turn:
                    results.append(
                        ToolResultBlock(
                            tool_use_id=use.id,
                            content=f"Not run: at most {self._config.max_tool_calls_per_round} "
                            f"tool calls a round and {self._config.max_tool_calls_per_turn} a "
                            "turn. Ask for what matters most, or answer.",
                            is_error=True,
                        )
                    )
                elif calls_deadline.remaining() < MIN_TOOL_SECONDS:
                    results.append(
                        ToolResultBlock(
                            tool_use_id=use.id,
                            content="Not run: the turn is out of time. Answer with what you have.",
                            is_error=True,
                        )
                    )
                else:
                    outcome = tools.run(use.name, use.input)
                    results.append(
                        ToolResultBlock(
                            tool_use_id=use.id, content=outcome.content, is_error=outcome.is_error
                        )
                    )
            assistant_blocks: list[TextBlock | ToolUseBlock] = [
                b for b in response.content if isinstance(b, (TextBlock, ToolUseBlock))
            ]
            messages = [
                *messages,
                Message(role="assistant", content=list(assistant_blocks)),
                Message(role="user", content=list(results)),
            ]
        return result

    def _settle(
        self, loop: LoopResult, gathered: Gathered, query: str, tools: TurnTools
    ) -> tuple[AgentAnswer, str | None, ResponseType]:
        """The answer to give: the model's, the offline analyst's, or a fallback."""
        if loop.answer is not None:
            return loop.answer, None, loop.answer.response_type
        draft_args = {
            "query": query,
            "registry": gathered.registry,
            "evidence": gathered.evidence,
            "hits": gathered.hits,
            "hypotheses": gathered.view.hypotheses,
            "lead": gathered.lead,
            "case_title": gathered.view.case.title,
        }
        if loop.offline:
            answer = offline.draft(**draft_args)  # type: ignore[arg-type]
            return answer, None, answer.response_type
        if loop.deadline_hit:
            answer = offline.draft(
                **draft_args,  # type: ignore[arg-type]
                reason=(
                    f"I ran out of this turn's time ({self._config.turn_deadline_seconds:.0f} s) "
                    f"after {len(loop.completions)} model calls and {tools.calls} tool calls, "
                    "before the model finished. Here is what the evidence and knowledge "
                    "already show; ask again to continue."
                ),
            )
            return answer, "deadline", ResponseType.STATUS_UPDATE
        text = loop.raw_text.strip() or (
            "I could not put my answer into the expected structure. Please ask again, or "
            "rephrase the question."
        )
        handles = list(dict.fromkeys(_HANDLE.findall(text)))
        answer = AgentAnswer(
            response_type=ResponseType.ANSWER,
            content=mem.cap(text, 7900) if len(text) > 7900 else text,
            confidence=0.2,
            cited_source_ids=handles[:20],
        )
        return answer, "invalid_answer", ResponseType.GENERAL_RESPONSE

    # -- applying the answer -----------------------------------------------------------------
    @staticmethod
    def _citations(answer: AgentAnswer, registry: SourceRegistry) -> tuple[list[Source], list[str]]:
        references = [*answer.cited_source_ids, *_HANDLE.findall(answer.content)]
        for draft in answer.hypotheses:
            references += draft.supporting_source_ids + draft.refuting_source_ids
        sources: dict[str, Source] = {}
        hallucinated: list[str] = []
        for reference in references:
            found = registry.resolve(reference)
            if found is None:
                if reference[:200] not in hallucinated:
                    hallucinated.append(reference[:200])
                continue
            if found.source_id in sources:
                continue
            sources[found.source_id] = Source(
                type=found.type,
                source_id=found.source_id,
                content=found.snippet,
                snippet=found.snippet,
                confidence=found.metadata.get("confidence"),
                metadata={**found.metadata, "handle": found.handle, "title": found.title},
            )
        return list(sources.values()), hallucinated

    def _apply_hypotheses(
        self,
        principal: Principal,
        case_id: str,
        answer: AgentAnswer,
        existing: Sequence[HypothesisOut],
        registry: SourceRegistry,
    ) -> tuple[list[HypothesisOut], list[HypothesisOut]]:
        """New hypotheses created, and evidence added to existing ones, through the case
        service (whose confidence rules set the likelihood). Returns (created, all)."""
        by_id = {h.hypothesis_id: h for h in existing}
        by_statement = {_norm(h.statement): h for h in existing}
        created: list[HypothesisOut] = []
        for draft in answer.hypotheses:
            supporting = _evidence_items(draft.supporting_source_ids, registry)
            refuting = _evidence_items(draft.refuting_source_ids, registry)
            target = by_id.get(draft.hypothesis_id or "") or by_statement.get(
                _norm(draft.statement)
            )
            try:
                if target is None:
                    target = self._cases.add_hypothesis(
                        principal,
                        case_id,
                        HypothesisCreate(
                            statement=mem.cap(draft.statement, 500),
                            category=draft.category,
                            rationale=draft.rationale,
                            initial_likelihood=float(draft.likelihood),
                        ),
                    )
                    created.append(target)
                if supporting or refuting:
                    target = self._cases.update_hypothesis(
                        principal,
                        case_id,
                        target.hypothesis_id,
                        HypothesisUpdate(
                            add_supporting_evidence=supporting, add_refuting_evidence=refuting
                        ),
                    )
            except (AppError, ValidationError) as exc:
                logger.warning(
                    "agent hypothesis not stored",
                    extra={"case_id": case_id, "error": type(exc).__name__},
                )
                continue
            by_id[target.hypothesis_id] = target
            by_statement[_norm(target.statement)] = target
            created = [target if c.hypothesis_id == target.hypothesis_id else c for c in created]
        return created, list(by_id.values())

    def _apply_solutions(
        self,
        principal: Principal,
        case_id: str,
        answer: AgentAnswer,
        hypotheses: Sequence[HypothesisOut],
    ) -> list[SolutionOut]:
        known = {h.hypothesis_id for h in hypotheses}
        stored: list[SolutionOut] = []
        for draft in answer.solutions:
            try:
                stored.append(
                    self._cases.add_solution(
                        principal,
                        case_id,
                        SolutionCreate(
                            title=mem.cap(draft.title, 200),
                            description=draft.description,
                            category=draft.category,
                            steps=list(draft.steps),
                            risk_level=draft.risk_level,
                            hypothesis_id=draft.hypothesis_id
                            if draft.hypothesis_id in known
                            else None,
                        ),
                    )
                )
            except (AppError, ValidationError) as exc:
                logger.warning(
                    "agent solution not stored",
                    extra={"case_id": case_id, "error": type(exc).__name__},
                )
        return stored

    def _store_requests(
        self,
        principal: Principal,
        case_id: str,
        answer: AgentAnswer,
        hypotheses: Sequence[HypothesisOut],
        turn: int,
    ) -> list[EvidenceRequestOut]:
        """The answer's evidence requests, kept by the investigation (listed at
        GET …/evidence-requests); one the case already has — open, blocked or answered —
        is not asked twice."""
        if not answer.evidence_requests:
            return []
        known = {h.hypothesis_id for h in hypotheses}
        already = {
            (r.category.value, _norm(r.label))
            for r in self._investigation.requests_of(
                case_id, PageRequest(page=1, page_size=100)
            ).items
        }
        fresh = [
            NewEvidenceRequest(
                label=d.label,
                description=d.description,
                category=d.category,
                priority=d.priority,
                guidance=d.guidance.model_dump(mode="json"),
                for_hypothesis_id=d.for_hypothesis_id if d.for_hypothesis_id in known else None,
            )
            for d in answer.evidence_requests
            if (d.category.value, _norm(d.label)) not in already
        ]
        try:
            stored = self._investigation.add_requests(principal, case_id, fresh, turn=turn)
        except AppError as exc:
            logger.warning("agent evidence requests not stored", extra={"error": exc.error_code})
            return []
        return _request_outs(stored)

    # -- memory ----------------------------------------------------------------------------
    def turns_taken(self, cases: Sequence[CaseOut]) -> dict[str, int]:
        """How many chat turns each case has had: for cases the caller has already read
        (a list, a case), so it authorizes nothing itself."""
        from faultmaven.agent import store

        if not cases:
            return {}
        with self._db.session() as session:
            taken = store.turns_taken(session, [c.case_id for c in cases])
        return {c.case_id: taken.get(c.case_id, 0) for c in cases}

    def _reserve_turn(self, case_id: str) -> int:
        from faultmaven.agent import store

        with self._db.session() as session:
            return store.reserve_turn(session, case_id)

    def _load_memory(self, case_id: str) -> mem.HierarchicalMemory:
        from faultmaven.agent import store

        with self._db.session() as session:
            state = store.load(session, case_id)
        return _memory_of(state)

    def _remember(
        self,
        case_id: str,
        record: mem.TurnRecord,
        cited: dict[str, str],
        models: LanguageModels,
        history_id: str,
        deadline: Deadline,
    ) -> mem.HierarchicalMemory:
        from faultmaven.agent import store

        with self._db.session() as session:
            current = _memory_of(store.locked(session, case_id))
            updated = mem.add_turn(current, record, cited_snippets=cited)
            if updated.should_compress(self._config.compression_every):
                updated = mem.apply_compression(updated, mem.compress_deterministic(updated))
                compressed_by_model = True
            else:
                compressed_by_model = False
            store.save(session, case_id, updated.turn, updated.model_dump(mode="json"))
        if compressed_by_model and not models.offline:
            improved = self._compress_with_model(updated, models, case_id, history_id, deadline)
            if improved is not None:
                with self._db.session() as session:
                    latest = _memory_of(store.locked(session, case_id))
                    if latest.turn == updated.turn:  # no other turn landed meanwhile
                        latest = mem.apply_compression(latest, improved)
                        store.save(session, case_id, latest.turn, latest.model_dump(mode="json"))
                        updated = latest
        return updated

    def _compress_with_model(
        self,
        memory: mem.HierarchicalMemory,
        models: LanguageModels,
        case_id: str,
        history_id: str,
        deadline: Deadline,
    ) -> mem.Compression | None:
        """The model's rewrite of the summary and insights, when there is time left for
        it; the deterministic compression already stored stays otherwise."""
        from faultmaven.llm.retry import Deadline as DeadlineType
        from faultmaven.llm.service import CallScope
        from faultmaven.llm.structured import StructuredOutputError, ask_structured

        budget = DeadlineType(deadline.at - 0.5, deadline.clock)
        if budget.remaining() < 2 * MIN_ROUND_SECONDS:
            return None
        insights = "\n".join(f"- {i}" for i in memory.persistent_insights)
        prompt = (
            f"<memory>\n{mem.render(memory, self._config.memory_budget_tokens)}\n</memory>\n"
            f"<running_summary>\n{memory.running_summary}\n</running_summary>\n"
            f"<persistent_insights>\n{insights}\n</persistent_insights>"
        )
        try:
            answer = ask_structured(
                models,
                mem.Compression,
                system=COMPRESSION_SYSTEM,
                messages=[Message.user(prompt)],
                tool_name="record_memory",
                tool_description="Record the compressed memory of the conversation.",
                scope=CallScope(step="memory compression", case_id=case_id, session_id=history_id),
                max_tokens=800,
                deadline=budget,
            )
        except (AppError, StructuredOutputError) as exc:
            logger.info(
                "memory compression kept the deterministic draft",
                extra={"reason": type(exc).__name__},
            )
            return None
        value = answer.value
        return mem.Compression(
            running_summary=redact(value.running_summary).text,
            persistent_insights=[redact(i).text for i in value.persistent_insights],
        )


# -- helpers -------------------------------------------------------------------------------


def _diverse(hits: list[SearchHit], k: int) -> list[SearchHit]:
    """The best `k` hits, at most `PER_DOCUMENT` from any one document, in rank order;
    when fewer documents than that exist, the remaining places go to the next best."""
    kept: list[SearchHit] = []
    per: dict[str, int] = {}
    spare: list[SearchHit] = []
    for hit in hits:
        if per.get(hit.document_id, 0) < PER_DOCUMENT:
            kept.append(hit)
            per[hit.document_id] = per.get(hit.document_id, 0) + 1
        else:
            spare.append(hit)
    chosen = kept[:k]
    if len(chosen) < k:
        chosen += spare[: k - len(chosen)]
    order = {id(h): i for i, h in enumerate(hits)}
    return sorted(chosen, key=lambda h: order[id(h)])


def _validated_answer(data: Any) -> AgentAnswer:
    """The answer, validated; strings that are too long only because redaction put a
    longer placeholder in (or the model overshot a limit by a little) are shortened at a
    word rather than costing the whole answer."""
    try:
        return AgentAnswer.model_validate(data)
    except ValidationError as exc:
        fitted = _fit_lengths(data, exc)
        if fitted is None:
            raise
        return AgentAnswer.model_validate(fitted)


def _fit_lengths(data: Any, exc: ValidationError) -> Any | None:
    """`data` with each too-long string capped to its limit, or None when some other
    error is among them (then the model must repair its answer)."""
    import copy

    errors = exc.errors()
    if not errors or any(e["type"] != "string_too_long" for e in errors):
        return None
    fitted = copy.deepcopy(data)
    for error in errors:
        limit = int((error.get("ctx") or {}).get("max_length", 0))
        *path, last = error["loc"]
        target = fitted
        for key in path:
            target = target[key]
        if limit > 0 and isinstance(target[last], str):
            target[last] = mem.cap(target[last], limit)
    return fitted


def _clean_json(value: Any, *, keys: bool = True) -> Any:
    """Every string of a JSON value through the redactor; `keys` too for a client's JSON
    (a schema's own field names need no redaction and must stay as they are)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_clean_json(v, keys=keys) for v in value]
    if isinstance(value, dict):
        return {
            (redact_text(str(k)) if keys else k): _clean_json(v, keys=keys)
            for k, v in value.items()
        }
    return value


def _redacted(answer: AgentAnswer) -> AgentAnswer:
    """Every string of the answer through the redactor before anything is stored or
    shown: the model's answer was redacted by the gateway already, but the offline
    analyst's is built here from knowledge text that nothing redacted."""
    cleaned = _clean_json(answer.model_dump(mode="json"), keys=False)
    try:
        return _validated_answer(cleaned)
    except ValidationError:  # not a length problem: keep at least the content, safe
        return AgentAnswer(
            response_type=ResponseType.ANSWER,
            content=mem.cap(redact_text(answer.content), 7900),
            confidence=answer.confidence,
            cited_source_ids=answer.cited_source_ids,
        )


def _memory_of(state: dict[str, Any] | None) -> mem.HierarchicalMemory:
    if not state:
        return mem.HierarchicalMemory()
    try:
        return mem.HierarchicalMemory.model_validate(state)
    except ValidationError:
        # Derived state: an unreadable memory (an older shape) starts afresh, the
        # conversation itself is in the case's messages.
        logger.warning("agent memory unreadable; starting afresh")
        return mem.HierarchicalMemory()


def _problems(exc: ValidationError) -> list[str]:
    return [
        f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:20]
    ]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _evidence_items(references: Sequence[str], registry: SourceRegistry) -> list[str]:
    items: list[str] = []
    for reference in references:
        found = registry.resolve(reference)
        if found is not None:
            item = mem.cap(f"{found.source_id}: {found.snippet}", 2000)
            if item not in items:
                items.append(item)
    return items


def _usage(completions: Sequence[Completion]) -> dict[str, int]:
    return {
        "input": sum(c.response.usage.input_tokens for c in completions),
        "output": sum(c.response.usage.output_tokens for c in completions),
        "cache_read": sum(c.response.usage.cache_read_input_tokens for c in completions),
        "cache_write": sum(c.response.usage.cache_creation_input_tokens for c in completions),
    }


def _summary(hypothesis: HypothesisOut, created: Sequence[HypothesisOut]) -> HypothesisSummary:
    return HypothesisSummary(
        hypothesis_id=hypothesis.hypothesis_id,
        statement=hypothesis.statement,
        category=hypothesis.category.value,
        likelihood=hypothesis.likelihood,
        status=hypothesis.status.value,
        created_this_turn=any(c.hypothesis_id == hypothesis.hypothesis_id for c in created),
    )


def _iteration_report(
    answer: AgentAnswer,
    turn: int,
    created: Sequence[HypothesisOut],
    requests: Sequence[EvidenceRequestOut],
    before: Sequence[HypothesisOut] = (),
    after: Sequence[HypothesisOut] = (),
) -> IterationReport:
    evidence_of = {
        h.hypothesis_id: (len(h.supporting_evidence), len(h.refuting_evidence)) for h in before
    }
    worked = [
        h.hypothesis_id
        for h in after
        if h.hypothesis_id in evidence_of
        and evidence_of[h.hypothesis_id] != (len(h.supporting_evidence), len(h.refuting_evidence))
    ]
    steps = ["observe", "orient"]
    if answer.hypotheses or answer.solutions or answer.plan:
        steps.append("decide")
    if answer.suggested_commands or requests or answer.fix_verified:
        steps.append("act")
    evidence = sum(
        len(d.supporting_source_ids) + len(d.refuting_source_ids) for d in answer.hypotheses
    )
    return IterationReport(
        turn=turn,
        anomaly_frame=answer.anomaly_frame.model_dump() if answer.anomaly_frame else None,
        timeline=answer.timeline.model_dump(mode="json", exclude_defaults=True)
        if answer.timeline
        else None,
        working_conclusion=answer.working_conclusion.model_dump(mode="json")
        if answer.working_conclusion
        else None,
        created_hypothesis_ids=[h.hypothesis_id for h in created],
        evidence_added=evidence,
        requests_made=len(requests),
        focus_hypothesis_id=answer.focus_hypothesis_id,
        worked_hypothesis_ids=worked,
        new_insights=mem.sentences(answer.content)[:2],
        fix_verified=answer.fix_verified,
        steps_completed=steps,
    )


def _request_outs(records: Sequence[EvidenceRequestRecord]) -> list[EvidenceRequestOut]:
    outs: list[EvidenceRequestOut] = []
    for r in records:
        try:
            guidance = AcquisitionGuidance.model_validate(r.guidance)
        except ValidationError:
            guidance = AcquisitionGuidance()
        outs.append(
            EvidenceRequestOut(
                request_id=r.request_id,
                label=r.label[:100] or "evidence",
                description=r.description[:500] or r.label or "evidence",
                category=r.category,
                priority=r.priority,
                guidance=guidance,
                for_hypothesis_id=r.for_hypothesis_id,
                status=r.status.value,
                created_at_turn=r.created_at_turn,
                completeness=1.0 if r.status.value in ("received", "validated") else 0.0,
            )
        )
    return outs


def _hint(answer: AgentAnswer, requests: Sequence[EvidenceRequestOut]) -> str | None:
    if requests:
        return f"Upload: {requests[0].label}"
    if answer.clarifying_questions:
        return answer.clarifying_questions[0]
    if answer.suggested_commands:
        return f"Run: {answer.suggested_commands[0].command}"
    return None
