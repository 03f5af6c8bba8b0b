"""Reading the investigation history, authorized like the case each session belongs to:
whoever reads the case reads its sessions (owner, every participant role, team or
organization members when the case is shared that way, analysts), administrators read
every session, and a session of no case (an alert that opened none yet) is for
administrators alone. A session the caller may not read does not exist for them (404)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from faultmaven.auth.principal import Principal
from faultmaven.cases import queries as cases
from faultmaven.cases.access import Access
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import NotFoundError, ValidationFailedError
from faultmaven.core.ids import looks_like_id
from faultmaven.core.pagination import PageRequest
from faultmaven.history import store
from faultmaven.history.models import (
    TIME_RANGES,
    ChainStatistics,
    DetailedSession,
    DetailedStage,
    FilterOptions,
    LLMEventDetails,
    LLMInteraction,
    MCPEventDetails,
    MCPInteraction,
    PaginatedSessions,
    PaginationInfo,
    SessionOverview,
    SessionStats,
    SessionStatus,
    StageStatus,
    TimeRange,
    TokenUsage,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.core.ports import Database
    from faultmaven.db.tables import (
        HistoryLLMInteraction,
        HistorySession,
        HistoryStage,
        HistoryToolInteraction,
    )

RequireCaseAccess = Callable[[Principal, str, Access], object]
_MAX_SEARCH = 200


def _not_found() -> NotFoundError:
    return NotFoundError("History session not found", error_code="HISTORY_SESSION_NOT_FOUND")


def _invalid(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError(
        "Invalid history filter", details=[{"field": field, "message": message}]
    )


class HistoryService:
    def __init__(self, database: Database, *, require_case_access: RequireCaseAccess) -> None:
        self._db = database
        self._require_case_access = require_case_access

    # -- the list --------------------------------------------------------------------------
    def list_sessions(
        self,
        principal: Principal,
        page: PageRequest,
        *,
        case_id: str | None = None,
        statuses: Sequence[SessionStatus] = (),
        agent_type: str | None = None,
        alert_type: str | None = None,
        start_date_us: int | None = None,
        end_date_us: int | None = None,
        time_range: TimeRange | None = None,
        search: str | None = None,
    ) -> PaginatedSessions:
        if case_id is not None and not looks_like_id(case_id, "case"):
            raise _invalid("case_id", "not a case id")
        if time_range is not None and (start_date_us is not None or end_date_us is not None):
            raise _invalid("time_range", "give a time_range or start/end dates, not both")
        if time_range is not None:
            start_date_us = _range_start_us(time_range, utcnow())
        if start_date_us is not None and end_date_us is not None and start_date_us > end_date_us:
            raise _invalid("end_date_us", "ends before it starts")
        if search is not None:
            search = search.strip()[:_MAX_SEARCH] or None
        applied: dict[str, Any] = {
            key: value
            for key, value in {
                "case_id": case_id,
                "status": [s.value for s in statuses] or None,
                "agent_type": agent_type,
                "alert_type": alert_type,
                "start_date_us": start_date_us,
                "end_date_us": end_date_us,
                "time_range": time_range,
                "search": search,
            }.items()
            if value is not None
        }
        with self._db.session() as session:
            where = store.SessionFilter(
                visible_case_ids=self._visible(session, principal),
                case_id=case_id,
                statuses=[s.value for s in statuses],
                agent_type=agent_type,
                alert_type=alert_type,
                start_us=start_date_us,
                end_us=end_date_us,
                search=search,
            )
            rows, total = store.page_of_sessions(
                session, where, limit=page.page_size, offset=page.offset
            )
            counts = store.counts(session, [r.id for r in rows])
        return PaginatedSessions(
            sessions=[_overview(r, counts[r.id]) for r in rows],
            pagination=PaginationInfo(
                page=page.page,
                page_size=page.page_size,
                total_pages=math.ceil(total / page.page_size) if total else 0,
                total_items=total,
            ),
            filters_applied=applied,
        )

    def filter_options(self, principal: Principal) -> FilterOptions:
        """The agent and alert types and statuses found among the sessions the caller
        reads (so a filter never offers what would reveal someone else's session)."""
        with self._db.session() as session:
            where = store.SessionFilter(visible_case_ids=self._visible(session, principal))
            agent_types = store.distinct_values(session, where, "agent_type")
            alert_types = store.distinct_values(session, where, "alert_type")
            present = set(store.distinct_values(session, where, "status"))
        return FilterOptions(
            agent_types=agent_types,
            alert_types=alert_types,
            status_options=[s.value for s in SessionStatus if s.value in present],
            time_ranges=list(TIME_RANGES),
        )

    # -- one session -----------------------------------------------------------------------
    def get_session(self, principal: Principal, session_id: str) -> DetailedSession:
        with self._db.session() as session:
            row = self._readable(session, principal, session_id)
            stages = store.stages_of(session, row.id)
            llm = store.llm_interactions_of(session, row.id)
            tools = store.tool_interactions_of(session, row.id)
        llm_models = [_llm(i) for i in llm]
        tool_models = [_tool(i) for i in tools]
        known = {s.execution_id for s in stages}
        detailed = [
            _stage(
                s,
                [i for i in llm_models if i.stage_execution_id == s.execution_id],
                [i for i in tool_models if i.stage_execution_id == s.execution_id],
            )
            for s in stages
        ]
        everything: list[LLMInteraction | MCPInteraction] = [*llm_models, *tool_models]
        unstaged = [i for i in everything if i.stage_execution_id not in known]
        unstaged.sort(key=lambda i: (i.timestamp_us, i.id))
        return DetailedSession(
            session_id=row.id,
            case_id=row.case_id,
            alert_id=row.alert_id,
            alert_type=row.alert_type,
            agent_type=row.agent_type,
            status=SessionStatus(row.status),
            started_at_us=row.started_at_us,
            completed_at_us=row.completed_at_us,
            error_message=row.error_message,
            alert_data=row.alert_data or {},
            final_analysis=row.final_analysis,
            session_metadata=row.session_metadata,
            chain_id=row.chain_id,
            chain_definition=row.chain_definition or {},
            current_stage_index=row.current_stage_index,
            current_stage_id=row.current_stage_id,
            total_interactions=len(llm_models) + len(tool_models),
            llm_interaction_count=len(llm_models),
            mcp_communication_count=len(tool_models),
            stages=detailed,
            unstaged_interactions=unstaged,
        )

    def session_stats(self, principal: Principal, session_id: str) -> SessionStats:
        with self._db.session() as session:
            row = self._readable(session, principal, session_id)
            stages = store.stages_of(session, row.id)
            llm = store.llm_interactions_of(session, row.id)
            tools = store.tool_interactions_of(session, row.id)
        by_agent: dict[str, int] = {}
        for stage in stages:
            by_agent[stage.agent] = by_agent.get(stage.agent, 0) + 1
        tokens = {
            "input_tokens": sum(i.input_tokens for i in llm),
            "output_tokens": sum(i.output_tokens for i in llm),
            "cache_creation_input_tokens": sum(i.cache_creation_input_tokens for i in llm),
            "cache_read_input_tokens": sum(i.cache_read_input_tokens for i in llm),
        }
        return SessionStats(
            total_interactions=len(llm) + len(tools),
            llm_interactions=len(llm),
            mcp_communications=len(tools),
            errors_count=sum(not i.success for i in llm) + sum(not i.success for i in tools),
            total_duration_ms=sum(i.duration_ms for i in llm) + sum(i.duration_ms for i in tools),
            chain_statistics=ChainStatistics(
                total_stages=len(stages),
                completed_stages=sum(s.status == StageStatus.COMPLETED.value for s in stages),
                failed_stages=sum(s.status == StageStatus.FAILED.value for s in stages),
                stages_by_agent=by_agent,
            ),
            **tokens,
            total_tokens=sum(tokens.values()),
            total_cost_usd=sum(i.cost_usd for i in llm),
        )

    # -- a case or an account going ----------------------------------------------------------
    def forget_case(self, case_id: str) -> int:
        """A deleted case takes its sessions along: they quote the case (redacted, but its
        content all the same), as the case's working memory does. Returns how many went."""
        with self._db.session() as session:
            return store.delete_sessions_of_case(session, case_id)

    def forget_owner(self, user_id: str) -> int:
        """An erased account no longer names itself as the starter of any session; the
        sessions stay with their cases (which may have been handed over)."""
        with self._db.session() as session:
            return store.clear_owner(session, user_id)

    # -- authorization -----------------------------------------------------------------------
    def _visible(self, session: Session, principal: Principal) -> Any:
        """None for an administrator (every session), else the cases the caller reads."""
        if principal.is_admin:
            return None
        return cases.visible_case_ids(session, principal.user_id, sees_all=principal.is_analyst)

    def _readable(self, session: Session, principal: Principal, session_id: str) -> HistorySession:
        row = store.find_session(session, session_id) if looks_like_id(session_id) else None
        if row is None:
            raise _not_found()
        if principal.is_admin:
            return row
        if row.case_id is None:
            raise _not_found()
        try:
            self._require_case_access(principal, row.case_id, Access.READ)
        except NotFoundError:
            raise _not_found() from None
        return row


def expire_sessions(
    session: Session, cutoff: datetime, *, after: str | None, limit: int, dry_run: bool
) -> tuple[list[str], int]:
    """One retention batch: the ids of sessions finished (or, never finished, started)
    at or before `cutoff`, in key order after `after`, and how many were deleted with
    their stages and interactions (or would be, in a dry run)."""
    cutoff_us = _micros(cutoff)
    ids = store.finished_before(session, cutoff_us, after=after, limit=limit)
    if dry_run or not ids:
        return ids, len(ids)
    return ids, store.delete_finished_before(session, ids, cutoff_us)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _range_start_us(time_range: TimeRange, now: datetime) -> int:
    if time_range == "today":
        start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        amount, unit = int(time_range[:-1]), time_range[-1]
        start = now - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    return _micros(start)


def _overview(row: HistorySession, counts: store.Counts) -> SessionOverview:
    return SessionOverview(
        session_id=row.id,
        case_id=row.case_id,
        alert_id=row.alert_id,
        alert_type=row.alert_type,
        agent_type=row.agent_type,
        status=SessionStatus(row.status),
        started_at_us=row.started_at_us,
        completed_at_us=row.completed_at_us,
        error_message=row.error_message,
        llm_interaction_count=counts.llm,
        mcp_communication_count=counts.tool,
        total_interactions=counts.llm + counts.tool,
        chain_id=row.chain_id,
        total_stages=counts.stages,
        completed_stages=counts.completed_stages,
        failed_stages=counts.failed_stages,
        current_stage_index=row.current_stage_index,
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _llm(row: HistoryLLMInteraction) -> LLMInteraction:
    request = row.request if isinstance(row.request, dict) else {}
    system = request.get("system")
    choice = request.get("tool_choice")
    max_tokens = request.get("max_tokens")
    tokens = TokenUsage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_creation_input_tokens=row.cache_creation_input_tokens,
        cache_read_input_tokens=row.cache_read_input_tokens,
        total_tokens=row.input_tokens
        + row.output_tokens
        + row.cache_creation_input_tokens
        + row.cache_read_input_tokens,
    )
    return LLMInteraction(
        id=row.id,
        event_id=row.id,
        timestamp_us=row.timestamp_us,
        step_description=row.step_description,
        duration_ms=row.duration_ms,
        stage_execution_id=row.stage_execution_id,
        details=LLMEventDetails(
            provider=row.provider,
            model_name=row.model_name,
            temperature=row.temperature,
            system=system if isinstance(system, str) else _dicts(system) or None,
            messages=_dicts(request.get("messages")),
            tools=_dicts(request.get("tools")),
            tool_choice=choice if isinstance(choice, str | dict) else None,
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            response=row.response,
            success=row.success,
            error_message=row.error_message,
            token_usage=tokens,
            cost_usd=float(row.cost_usd),
            tool_calls=row.tool_calls,
        ),
    )


def _tool(row: HistoryToolInteraction) -> MCPInteraction:
    return MCPInteraction(
        id=row.id,
        event_id=row.id,
        timestamp_us=row.timestamp_us,
        step_description=row.step_description,
        duration_ms=row.duration_ms,
        stage_execution_id=row.stage_execution_id,
        details=MCPEventDetails(
            tool_name=row.tool_name,
            server_name=row.server_name,
            communication_type=row.communication_type,
            parameters=row.arguments or {},
            result=row.result or {},
            available_tools=row.available_tools or {},
            success=row.success,
            error_message=row.error_message,
        ),
    )


def _stage(
    row: HistoryStage, llm: list[LLMInteraction], tools: list[MCPInteraction]
) -> DetailedStage:
    return DetailedStage(
        execution_id=row.execution_id,
        session_id=row.session_id,
        stage_id=row.stage_id,
        stage_index=row.stage_index,
        stage_name=row.stage_name,
        agent=row.agent,
        status=StageStatus(row.status),
        started_at_us=row.started_at_us,
        completed_at_us=row.completed_at_us,
        duration_ms=row.duration_ms,
        stage_output=row.stage_output,
        error_message=row.error_message,
        llm_interactions=llm,
        mcp_communications=tools,
        llm_interaction_count=len(llm),
        mcp_communication_count=len(tools),
        total_interactions=len(llm) + len(tools),
    )
