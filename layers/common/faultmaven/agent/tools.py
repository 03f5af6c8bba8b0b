"""The agent's built-in tools, for going deeper than the context already went.

Each tool is bound to the caller and the case of the turn: the model chooses arguments,
never whose data it reads, so every call is authorized as the user's own request would
be. A result larger than its share of the budget is cut at a line boundary with a note
saying how to narrow the call; the same call twice in one turn is refused (its first
result is already in the conversation). Every call is a history tool interaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faultmaven.agent import telemetry_tools as tele
from faultmaven.agent.context import SourceRegistry, evidence_source_type, hit_source
from faultmaven.agent.memory import cap
from faultmaven.agent.models import SourceType
from faultmaven.agent.telemetry_tools import TELEMETRY_TOOLS
from faultmaven.core.errors import AppError
from faultmaven.core.llm import ToolSpec
from faultmaven.core.logging import logger
from faultmaven.core.pagination import PageRequest
from faultmaven.core.telemetry import TelemetryError
from faultmaven.core.terms import terms
from faultmaven.core.tokens import CHARS_PER_TOKEN, estimate_text_tokens
from faultmaven.core.vectors import Scope
from faultmaven.history.recorder import ToolCallRecord, now_us
from faultmaven.knowledge.models import SearchRequest

if TYPE_CHECKING:
    from faultmaven.auth.principal import Principal
    from faultmaven.cases.service import CaseService
    from faultmaven.clusters.service import ClusterService
    from faultmaven.evidence.service import EvidenceService
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.knowledge.service import KnowledgeService

SERVER = "faultmaven"
READ_DEFAULT_CHARS = 3_000
READ_MAX_CHARS = 12_000


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchKnowledgeArgs(_Args):
    query: str = Field(min_length=1, max_length=500, description="what to look for")
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.CASE, Scope.USER, Scope.GLOBAL],
        description="case = this case's evidence; user = the user's and shared runbooks; "
        "global = the global knowledge base",
    )
    k: int = Field(default=5, ge=1, le=10)


class NoArgs(_Args):
    pass


class ReadEvidenceArgs(_Args):
    evidence_id: str = Field(min_length=1, max_length=40)
    offset: int = Field(default=0, ge=0, description="character offset in the extraction")
    limit: int = Field(default=READ_DEFAULT_CHARS, ge=200, le=READ_MAX_CHARS)


class SearchConversationArgs(_Args):
    query: str = Field(min_length=1, max_length=300, description="words from the earlier turn")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[_Args]

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name,
            description=self.description,
            input_schema=compact_schema(self.args.model_json_schema()),
        )


def compact_schema(schema: Any) -> Any:
    """A pydantic JSON schema without what costs tokens and tells a model nothing: the
    `title` of every property, and `anyOf: [X, null]` for optional fields (a field not in
    `required` may be left out; the answer's validation still takes a null). The tool
    definitions are sent with every call, so this is paid on every round."""
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: compact_schema(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)
    }
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other, dict):
            del out["anyOf"]
            if out.get("default", "missing") is None:
                del out["default"]
            out = {**other, **out}
    return out


BUILT_IN: tuple[Tool, ...] = (
    Tool(
        "search_knowledge",
        "Hybrid search of this case's evidence chunks and the runbook knowledge bases the "
        "user may read. Use it for what the context did not already show.",
        SearchKnowledgeArgs,
    ),
    Tool("list_evidence", "Every evidence file of the case with its status and summary.", NoArgs),
    Tool(
        "read_evidence",
        "A section of one evidence file's extraction (the analysed, redacted content), by "
        "character offset; page with offset and limit.",
        ReadEvidenceArgs,
    ),
    Tool("get_case", "The case's header: title, status, priority, description, tags.", NoArgs),
    Tool(
        "list_hypotheses",
        "The case's hypotheses with likelihood, status and their evidence, and solutions.",
        NoArgs,
    ),
    Tool(
        "search_conversation",
        "Earlier messages of this case's conversation that contain the given words, for "
        "facts from turns the memory only summarises.",
        SearchConversationArgs,
    ),
)
# Offered only while an enabled cluster has the backend the tool needs (tools.live_tools).
TELEMETRY: tuple[Tool, ...] = tuple(
    Tool(name, description, args)  # type: ignore[arg-type]
    for name, (description, args, _backend) in TELEMETRY_TOOLS.items()
)
BY_NAME = {tool.name: tool for tool in (*BUILT_IN, *TELEMETRY)}


def live_tools(clusters: ClusterService | None) -> frozenset[str]:
    """The telemetry tools some enabled cluster can answer now."""
    if clusters is None:
        return frozenset()
    have = clusters.capabilities()
    return frozenset(n for n, (_d, _a, backend) in TELEMETRY_TOOLS.items() if backend in have)


@dataclass
class ToolOutcome:
    content: str
    is_error: bool = False


@dataclass
class TurnTools:
    principal: Principal
    case_id: str
    cases: CaseService
    evidence: EvidenceService
    knowledge: KnowledgeService
    recorder: HistoryRecorder
    registry: SourceRegistry
    history_session_id: str
    stage_execution_id: str | None
    result_tokens: int
    # The tools this turn offered (its phase's); None: all of them.
    offered: frozenset[str] | None = None
    clusters: ClusterService | None = None
    # The most one live telemetry query may take inside this turn.
    telemetry_seconds: float = 20.0
    calls: int = 0
    _seen: set[str] = field(default_factory=set)

    def run(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        started = time.perf_counter()
        started_us = now_us()
        outcome = self._dispatch(name, arguments)
        self.calls += 1
        self.recorder.record_tool(
            ToolCallRecord(
                session_id=self.history_session_id,
                stage_execution_id=self.stage_execution_id,
                step_description=f"agent tool {name}",
                server_name=SERVER,
                tool_name=name,
                arguments=arguments,
                result={"content": outcome.content, "is_error": outcome.is_error},
                available_tools={"tools": sorted(self.offered or BY_NAME)},
                started_at_us=started_us,
                duration_ms=int((time.perf_counter() - started) * 1000),
                success=not outcome.is_error,
                error_message=outcome.content[:500] if outcome.is_error else None,
            )
        )
        return outcome

    def _dispatch(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        tool = BY_NAME.get(name) if self.offered is None or name in self.offered else None
        if tool is None:
            names = [n for n in BY_NAME if self.offered is None or n in self.offered]
            return ToolOutcome(f"Unknown tool {name!r}. Tools: {', '.join(names)}.", True)
        key = name + json.dumps(arguments, sort_keys=True, default=str)
        if key in self._seen:
            return ToolOutcome(
                "Refused: this exact call was already made in this turn; its result is "
                "above. Change the arguments or answer.",
                True,
            )
        self._seen.add(key)
        try:
            args = tool.args.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()[:10]
            )
            return ToolOutcome(f"Invalid arguments: {problems}", True)
        handler: Callable[[Any], str] = getattr(self, f"_{name}")
        try:
            text = handler(args)
        except AppError as exc:
            return ToolOutcome(f"{exc.error_code}: {exc.message}", True)
        except TelemetryError as exc:
            again = " It may answer if tried later." if exc.retryable else ""
            return ToolOutcome(f"The query failed: {tele.clean(exc.message)}.{again}", True)
        except Exception as exc:  # a tool must answer the model, not end the turn
            logger.warning("agent tool failed", extra={"tool": name, "error": type(exc).__name__})
            return ToolOutcome(f"The tool failed ({type(exc).__name__}); try another way.", True)
        return ToolOutcome(self._fit(text, name))

    def _fit(self, text: str, name: str) -> str:
        if estimate_text_tokens(text) <= self.result_tokens:
            return text
        limit = int(self.result_tokens * CHARS_PER_TOKEN) - 200
        kept: list[str] = []
        used = 0
        for line in text.splitlines():
            if used + len(line) + 1 > limit:
                break
            kept.append(line)
            used += len(line) + 1
        hint = {
            "read_evidence": "ask for a smaller `limit` or a later `offset`",
            "search_knowledge": "use a more specific query or a smaller `k`",
        }.get(name, "narrow the call")
        return (
            "\n".join(kept)
            + f"\n[Result cut at {used} of {len(text)} characters to fit the tool budget; "
            f"{hint}.]"
        )

    # -- the tools ------------------------------------------------------------------------
    def _search_knowledge(self, args: SearchKnowledgeArgs) -> str:
        found = self.knowledge.search(
            self.principal,
            SearchRequest(query=args.query, scopes=args.scopes, case_id=self.case_id, k=args.k),
        )
        if not found.items:
            return "No matching chunks."
        blocks = []
        for hit in found.items:
            source = hit_source(self.registry, hit)
            blocks.append(
                f'[{source.handle}] {source.metadata["kind"]} "{hit.title}" '
                f"(source_id {source.source_id}, score {hit.score:.3f})\n{hit.text.strip()}"
            )
        return "\n\n".join(blocks)

    def _list_evidence(self, args: NoArgs) -> str:
        page = self.evidence.list_for_case(
            self.principal, self.case_id, PageRequest(page=1, page_size=100)
        )
        if not page.items:
            return "The case has no evidence."
        return "\n".join(
            f'- {e.evidence_id} "{e.filename}" {e.data_type.value if e.data_type else "?"} '
            f"{e.status.value} {e.size_bytes or 0} bytes: {cap(e.summary or '', 240)}"
            for e in page.items
        )

    def _read_evidence(self, args: ReadEvidenceArgs) -> str:
        detail = self.evidence.get(self.principal, args.evidence_id)
        if detail.case_id != self.case_id:
            return "That evidence is not part of this case."
        body = detail.extraction or ""
        if not body:
            return f"{detail.filename} has no extraction ({detail.status.value})."
        piece = body[args.offset : args.offset + args.limit]
        end = args.offset + len(piece)
        source = self.registry.add(
            f"{detail.evidence_id}#chars-{args.offset}-{end}",
            evidence_source_type(detail.data_type.value if detail.data_type else None),
            detail.filename,
            piece,
            {
                "evidence_id": detail.evidence_id,
                "filename": detail.filename,
                "offset": args.offset,
                "end": end,
                "confidence": 1.0,
            },
        )
        more = f"; next offset {end}" if end < len(body) else "; end of the extraction"
        return (
            f'[{source.handle}] "{detail.filename}" characters {args.offset}-{end} of '
            f"{len(body)}{more}\n{piece}"
        )

    def _get_case(self, args: NoArgs) -> str:
        case = self.cases.get(self.principal, self.case_id)
        return (
            f"{case.case_id}: {case.title}\nstatus {case.status.value}, priority "
            f"{case.priority.value}, tags {', '.join(case.tags) or 'none'}, created "
            f"{case.created_at.isoformat()}\n{case.description or '(no description)'}"
        )

    def _list_hypotheses(self, args: NoArgs) -> str:
        from faultmaven.cases.access import Access

        view = self.cases.agent_view(self.principal, self.case_id, needed=Access.READ)
        lines = []
        for h in view.hypotheses:
            lines.append(
                f"- {h.hypothesis_id} [{h.status.value} {h.likelihood:.2f} {h.category.value}] "
                f"{h.statement}"
            )
            lines += [f"    + {cap(e, 200)}" for e in h.supporting_evidence[-5:]]
            lines += [f"    - {cap(e, 200)}" for e in h.refuting_evidence[-5:]]
        for s in view.solutions:
            lines.append(f"- solution {s.solution_id} [{s.status.value}] {s.title}")
        return "\n".join(lines) or "No hypotheses or solutions yet."

    def _search_conversation(self, args: SearchConversationArgs) -> str:
        words = sorted(terms(args.query), key=len, reverse=True)[:6]
        found = self.cases.search_messages(self.principal, self.case_id, words, limit=6)
        if not found:
            return "No earlier message mentions that."
        return "\n".join(
            f"- {m.created_at.isoformat()} {m.type.value} "
            f"(turn {m.metadata.get('turn', '?')}): {cap(m.content, 500)}"
            for m in found
        )

    # -- live telemetry ----------------------------------------------------------------------
    def _live(self) -> ClusterService:
        if self.clusters is None:
            raise TelemetryError("no cluster registry in this runtime", retryable=False)
        return self.clusters

    def _query_metrics(self, args: tele.QueryMetricsArgs) -> str:
        cluster, result = self._live().query_metrics(
            args.cluster, tele.metric_query(args, self.telemetry_seconds)
        )
        return self._telemetry_result(
            "query_metrics", cluster, args, tele.metrics_text(cluster, args.query, result)
        )

    def _query_logs(self, args: tele.QueryLogsArgs) -> str:
        cluster, entries = self._live().query_logs(args.cluster, tele.log_query(args))
        return self._telemetry_result(
            "query_logs", cluster, args, tele.logs_text(cluster, args.query, entries)
        )

    def _query_traces(self, args: tele.QueryTracesArgs) -> str:
        if not (args.trace_id or args.query or args.tags):
            raise TelemetryError("give a trace_id, a TraceQL query or tags", retryable=False)
        cluster, traces = self._live().query_traces(args.cluster, tele.trace_query(args))
        text = tele.traces_text(cluster, traces, by_id=args.trace_id is not None)
        return self._telemetry_result("query_traces", cluster, args, text)

    def _get_alerts(self, args: tele.GetAlertsArgs) -> str:
        cluster, alerts = self._live().get_alerts(args.cluster, tele.alert_query(args))
        return self._telemetry_result(
            "get_alerts", cluster, args, tele.alerts_text(cluster, alerts)
        )

    def _telemetry_result(self, tool: str, cluster: str, args: Any, text: str) -> str:
        """The result as a citable source, and as case evidence when asked: the bytes
        saved are the redacted text the model read."""
        described = args.model_dump(exclude={"save_as_evidence", "cluster"}, exclude_none=True)
        source = self.registry.add(
            f"telemetry:{cluster}:{tool}:{now_us()}",
            SourceType.TELEMETRY,
            f"{tool} on {cluster}",
            text,
            {"tool": tool, "cluster": cluster, "arguments": described, "confidence": 1.0},
        )
        saved = ""
        if args.save_as_evidence:
            filename, content_type, data_type = tele.evidence_file(tool, cluster, text)
            accepted = self.evidence.submit_bytes(
                self.principal,
                self.case_id,
                filename=filename,
                content_type=content_type,
                data=text.encode(),
                data_type=data_type,
                source="telemetry",
            )
            saved = f"\n[Saved to the case as evidence {accepted.evidence_id} ({filename}).]"
        return f"[{source.handle}] {text}{saved}"
