"""/api/v1/sessions: create or resume, read, heartbeat, list, end."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params
from faultmaven.sessions.models import SessionCreate, SessionOut

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], responses=ERROR_RESPONSES)


@router.post(
    "",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": SessionOut, "description": "An existing session was resumed"}},
)
def create_session(
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
    body: SessionCreate | None = None,
) -> SessionOut:
    session = container.sessions.create_or_resume(principal, body or SessionCreate())
    if session.session_resumed:
        response.status_code = status.HTTP_200_OK
    return session


@router.get("", response_model=Page[SessionOut])
def list_sessions(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Annotated[PageRequest, Depends(page_params)],
) -> Page[SessionOut]:
    return container.sessions.list_mine(principal, page)


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: str, principal: PrincipalDep, container: ContainerDep) -> SessionOut:
    return container.sessions.get(principal, session_id)


@router.post("/{session_id}/heartbeat", response_model=SessionOut)
def heartbeat(session_id: str, principal: PrincipalDep, container: ContainerDep) -> SessionOut:
    return container.sessions.heartbeat(principal, session_id)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(session_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.sessions.end(principal, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
