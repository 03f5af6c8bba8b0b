"""/api/v1/cases: cases, their lifecycle, messages, hypotheses, solutions and sharing.
HTTP shape only; every decision is in `service.py`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.cases.models import (
    AuditEventOut,
    CaseCreate,
    CaseOut,
    CasePriority,
    CaseStatus,
    CaseUpdate,
    HypothesisCreate,
    HypothesisOut,
    HypothesisUpdate,
    MessageCreate,
    MessageOut,
    ParticipantAdd,
    ParticipantOut,
    SolutionCreate,
    SolutionOut,
    SolutionUpdate,
    StatusChange,
    StatusTransitionOut,
)
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]
SortKey = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "priority",
    "-priority",
    "status",
    "-status",
]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
def create_case(body: CaseCreate, principal: PrincipalDep, container: ContainerDep) -> CaseOut:
    return container.cases.create(principal, body)


@router.get("", response_model=Page[CaseOut])
def list_cases(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Paging,
    status_filter: Annotated[CaseStatus | None, Query(alias="status")] = None,
    priority: CasePriority | None = None,
    relation: Annotated[
        Literal["all", "owned", "shared"],
        Query(description="owned by me, shared with me, or both"),
    ] = "all",
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="text in the title")
    ] = None,
    sort: Annotated[SortKey, Query(description="field, '-' for descending")] = "-updated_at",
) -> Page[CaseOut]:
    return container.cases.list(
        principal,
        page,
        status=status_filter,
        priority=priority,
        relation=relation,
        text=q,
        sort=sort,
    )


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: str, principal: PrincipalDep, container: ContainerDep) -> CaseOut:
    return container.cases.get(principal, case_id)


@router.patch("/{case_id}", response_model=CaseOut)
def update_case(
    case_id: str, body: CaseUpdate, principal: PrincipalDep, container: ContainerDep
) -> CaseOut:
    return container.cases.update(principal, case_id, body)


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_case(case_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.cases.delete(principal, case_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{case_id}/status", response_model=CaseOut)
def change_status(
    case_id: str, body: StatusChange, principal: PrincipalDep, container: ContainerDep
) -> CaseOut:
    return container.cases.change_status(principal, case_id, body)


@router.get("/{case_id}/status/history", response_model=Page[StatusTransitionOut])
def status_history(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[StatusTransitionOut]:
    return container.cases.status_history(principal, case_id, page)


@router.post("/{case_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageOut)
def add_message(
    case_id: str, body: MessageCreate, principal: PrincipalDep, container: ContainerDep
) -> MessageOut:
    return container.cases.add_message(principal, case_id, body)


@router.get("/{case_id}/messages", response_model=Page[MessageOut])
def list_messages(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[MessageOut]:
    return container.cases.messages(principal, case_id, page)


@router.post(
    "/{case_id}/hypotheses", status_code=status.HTTP_201_CREATED, response_model=HypothesisOut
)
def add_hypothesis(
    case_id: str, body: HypothesisCreate, principal: PrincipalDep, container: ContainerDep
) -> HypothesisOut:
    return container.cases.add_hypothesis(principal, case_id, body)


@router.get("/{case_id}/hypotheses", response_model=Page[HypothesisOut])
def list_hypotheses(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[HypothesisOut]:
    return container.cases.hypotheses(principal, case_id, page)


@router.get("/{case_id}/hypotheses/{hypothesis_id}", response_model=HypothesisOut)
def get_hypothesis(
    case_id: str, hypothesis_id: str, principal: PrincipalDep, container: ContainerDep
) -> HypothesisOut:
    return container.cases.get_hypothesis(principal, case_id, hypothesis_id)


@router.patch("/{case_id}/hypotheses/{hypothesis_id}", response_model=HypothesisOut)
def update_hypothesis(
    case_id: str,
    hypothesis_id: str,
    body: HypothesisUpdate,
    principal: PrincipalDep,
    container: ContainerDep,
) -> HypothesisOut:
    return container.cases.update_hypothesis(principal, case_id, hypothesis_id, body)


@router.post(
    "/{case_id}/solutions", status_code=status.HTTP_201_CREATED, response_model=SolutionOut
)
def add_solution(
    case_id: str, body: SolutionCreate, principal: PrincipalDep, container: ContainerDep
) -> SolutionOut:
    return container.cases.add_solution(principal, case_id, body)


@router.get("/{case_id}/solutions", response_model=Page[SolutionOut])
def list_solutions(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[SolutionOut]:
    return container.cases.solutions(principal, case_id, page)


@router.patch("/{case_id}/solutions/{solution_id}", response_model=SolutionOut)
def update_solution(
    case_id: str,
    solution_id: str,
    body: SolutionUpdate,
    principal: PrincipalDep,
    container: ContainerDep,
) -> SolutionOut:
    return container.cases.update_solution(principal, case_id, solution_id, body)


@router.post(
    "/{case_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantOut,
    responses={
        200: {"model": ParticipantOut, "description": "An existing participant's role changed"}
    },
)
def add_participant(
    case_id: str,
    body: ParticipantAdd,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
) -> ParticipantOut:
    participant, created = container.cases.add_participant(principal, case_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return participant


@router.get("/{case_id}/participants", response_model=Page[ParticipantOut])
def list_participants(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[ParticipantOut]:
    return container.cases.participants(principal, case_id, page)


@router.delete("/{case_id}/participants/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_participant(
    case_id: str, user_id: str, principal: PrincipalDep, container: ContainerDep
) -> Response:
    container.cases.remove_participant(principal, case_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{case_id}/audit", response_model=Page[AuditEventOut])
def audit_trail(
    case_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[AuditEventOut]:
    return container.cases.audit_trail(principal, case_id, page)
