"""/api/v1/cases/{case_id}/query (and its other name, /api/v1/agent/chat/{case_id}) and
/api/v1/agent/health. HTTP shape only; authorization is in the services."""

from __future__ import annotations

from fastapi import APIRouter

from faultmaven.agent.models import AgentHealth, AgentResponse, QueryRequest
from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["agent"], responses=ERROR_RESPONSES)

_TURN_RESPONSES: dict[int | str, dict[str, str]] = {
    402: {"description": "The case's or the session's model budget is spent"},
    502: {"description": "Every model provider refused the request (an operator must look)"},
    503: {"description": "The model is unavailable; retry after Retry-After seconds"},
}


@router.post("/cases/{case_id}/query", response_model=AgentResponse, responses=_TURN_RESPONSES)
def query_case(
    case_id: str, body: QueryRequest, principal: PrincipalDep, container: ContainerDep
) -> AgentResponse:
    """One chat turn: the agent answers from the case's evidence and knowledge, citing
    its sources, within API Gateway's 29 s. The question and the answer are stored as
    case messages; proposed hypotheses and solutions land in the case."""
    return container.agent.turn(principal, case_id, body)


@router.post("/agent/chat/{case_id}", response_model=AgentResponse, responses=_TURN_RESPONSES)
def agent_chat(
    case_id: str, body: QueryRequest, principal: PrincipalDep, container: ContainerDep
) -> AgentResponse:
    """The same turn as `POST /api/v1/cases/{case_id}/query`, under its other name."""
    return container.agent.turn(principal, case_id, body)


@router.get("/agent/health", response_model=AgentHealth)
def agent_health(container: ContainerDep) -> AgentHealth:
    """Which language-model provider answers (and whether it is the offline analyst)."""
    return container.agent.health()
