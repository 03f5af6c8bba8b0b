"""/api/v1/cases/{case_id}/investigation: the investigation's state and the user's
consent. HTTP shape only; authorization is in the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params
from faultmaven.investigation.models import (
    ConsentRequest,
    EvidenceRequestRecord,
    InvestigationOut,
    RequestStatusChange,
    RunOut,
)

router = APIRouter(prefix="/api/v1/cases", tags=["investigation"], responses=ERROR_RESPONSES)


@router.get("/{case_id}/investigation", response_model=InvestigationOut)
def get_investigation(
    case_id: str, principal: PrincipalDep, container: ContainerDep
) -> InvestigationOut:
    """The case's investigation: phase 0 (intake, consultant mode) until consent."""
    return container.investigation.get(principal, case_id)


@router.post("/{case_id}/investigation/consent", response_model=InvestigationOut)
def consent(
    case_id: str, body: ConsentRequest, principal: PrincipalDep, container: ContainerDep
) -> InvestigationOut:
    """Let the agent lead: the investigation starts in phase 1 (blast radius) and the case
    moves to `investigating`. Consenting again changes nothing."""
    return container.investigation.consent(principal, case_id, body)


@router.post(
    "/{case_id}/investigation/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    summary="Run the investigation autonomously",
    description="Starts the investigation's state machine: the agent works phase after "
    "phase by itself, parks when it needs evidence (an upload or answer that satisfies a "
    "request resumes it) and stops when done, stalled or out of budget. Poll `Location` "
    "(the job); the run's outcome is also in `GET …/investigation` (`runs`). Starting "
    "again while a run is going returns that run.",
)
def run_investigation(
    case_id: str, principal: PrincipalDep, container: ContainerDep, response: Response
) -> RunOut:
    run = container.investigation.start_run(principal, case_id)
    response.headers["Location"] = f"/api/v1/jobs/{run.job_id}"
    response.headers["Retry-After"] = "5"
    return run


@router.get("/{case_id}/evidence-requests", response_model=Page[EvidenceRequestRecord])
def list_evidence_requests(
    case_id: str,
    principal: PrincipalDep,
    container: ContainerDep,
    page: Annotated[PageRequest, Depends(page_params)],
    open_only: Annotated[
        bool, Query(alias="open", description="only requested or acknowledged ones")
    ] = False,
) -> Page[EvidenceRequestRecord]:
    """What the agent asked for, with how to get it, oldest first."""
    return container.investigation.requests(principal, case_id, page, open_only=open_only)


@router.post(
    "/{case_id}/evidence-requests/{request_id}/status", response_model=EvidenceRequestRecord
)
def change_evidence_request_status(
    case_id: str,
    request_id: str,
    body: RequestStatusChange,
    principal: PrincipalDep,
    container: ContainerDep,
) -> EvidenceRequestRecord:
    """Acknowledge a request, or mark it blocked with a reason (three blocked requests
    stall an investigating case)."""
    return container.investigation.change_request_status(principal, case_id, request_id, body)
