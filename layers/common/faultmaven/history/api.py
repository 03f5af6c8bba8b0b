"""/api/v1/history: investigation and preprocessing sessions, their stages and every LLM
and tool call (TARSy EP-0010 shapes). HTTP shape only; authorization is in `service.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import PageRequest, page_params
from faultmaven.history.models import (
    DetailedSession,
    FilterOptions,
    PaginatedSessions,
    SessionStats,
    SessionStatus,
    TimeRange,
)

router = APIRouter(prefix="/api/v1/history", tags=["history"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]
# Microseconds since the epoch; the bound keeps the value inside PostgreSQL's BIGINT.
Micros = Annotated[int | None, Query(ge=0, le=2**62, description="µs since the epoch")]
Name = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/sessions", response_model=PaginatedSessions)
def list_sessions(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Paging,
    case_id: Annotated[str | None, Query(max_length=40, description="sessions of one case")] = None,
    status: Annotated[
        list[SessionStatus] | None, Query(description="repeat for several statuses")
    ] = None,
    agent_type: Name = None,
    alert_type: Name = None,
    start_date_us: Micros = None,
    end_date_us: Micros = None,
    time_range: Annotated[
        TimeRange | None, Query(description="a value from /history/filter-options")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="text in the alert type, agent type, error or final analysis",
        ),
    ] = None,
) -> PaginatedSessions:
    return container.history.list_sessions(
        principal,
        page,
        case_id=case_id,
        statuses=status or (),
        agent_type=agent_type,
        alert_type=alert_type,
        start_date_us=start_date_us,
        end_date_us=end_date_us,
        time_range=time_range,
        search=search,
    )


@router.get("/filter-options", response_model=FilterOptions)
def filter_options(principal: PrincipalDep, container: ContainerDep) -> FilterOptions:
    return container.history.filter_options(principal)


@router.get("/sessions/{history_session_id}", response_model=DetailedSession)
def get_session(
    history_session_id: str, principal: PrincipalDep, container: ContainerDep
) -> DetailedSession:
    return container.history.get_session(principal, history_session_id)


@router.get("/sessions/{history_session_id}/summary", response_model=SessionStats)
def session_summary(
    history_session_id: str, principal: PrincipalDep, container: ContainerDep
) -> SessionStats:
    return container.history.session_stats(principal, history_session_id)
