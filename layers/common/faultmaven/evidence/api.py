"""/api/v1/cases/{case_id}/evidence and /api/v1/evidence: intake and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params
from faultmaven.evidence.models import (
    DownloadLink,
    EvidenceAccepted,
    EvidenceDetail,
    EvidenceOut,
    TextEvidenceRequest,
    UploadRequest,
)
from faultmaven.jobs.api import POLL_AFTER_SECONDS

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=ERROR_RESPONSES)


def _accepted(response: Response, accepted: EvidenceAccepted) -> EvidenceAccepted:
    response.headers["Location"] = f"/api/v1/jobs/{accepted.job_id}"
    response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return accepted


@router.post(
    "/cases/{case_id}/evidence",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EvidenceAccepted,
    responses={413: {"description": "Declared size over the limit"}},
)
def request_upload(
    case_id: str,
    body: UploadRequest,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
) -> EvidenceAccepted:
    return _accepted(response, container.evidence.request_upload(principal, case_id, body))


@router.post(
    "/cases/{case_id}/evidence/text",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EvidenceAccepted,
)
def submit_text(
    case_id: str,
    body: TextEvidenceRequest,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
) -> EvidenceAccepted:
    return _accepted(response, container.evidence.submit_text(principal, case_id, body))


@router.get("/cases/{case_id}/evidence", response_model=Page[EvidenceOut])
def list_evidence(
    case_id: str,
    principal: PrincipalDep,
    container: ContainerDep,
    page: Annotated[PageRequest, Depends(page_params)],
) -> Page[EvidenceOut]:
    return container.evidence.list_for_case(principal, case_id, page)


@router.get("/evidence/{evidence_id}", response_model=EvidenceDetail)
def get_evidence(
    evidence_id: str, principal: PrincipalDep, container: ContainerDep
) -> EvidenceDetail:
    return container.evidence.get(principal, evidence_id)


@router.get("/evidence/{evidence_id}/download", response_model=DownloadLink)
def download_evidence(
    evidence_id: str, principal: PrincipalDep, container: ContainerDep
) -> DownloadLink:
    return container.evidence.download(principal, evidence_id)


@router.delete("/evidence/{evidence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_evidence(evidence_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.evidence.delete(principal, evidence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
