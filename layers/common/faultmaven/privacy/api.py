"""/api/v1/auth/me: the caller's data rights — an export of everything that is theirs
(a 202 job, then a download link), and the deletion of their account."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.evidence.models import DownloadLink
from faultmaven.jobs.api import POLL_AFTER_SECONDS
from faultmaven.jobs.models import Job
from faultmaven.privacy.models import AccountDeletion, DeletionAccepted

router = APIRouter(prefix="/api/v1/auth/me", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Job,
    summary="Export all my data",
    description="Starts building an archive of your profile, your cases with their "
    "messages, hypotheses, solutions and evidence (metadata and raw files) and your "
    "knowledge documents. Poll `Location` (the job); when it is done it redirects to "
    "the download.",
)
def request_export(principal: PrincipalDep, container: ContainerDep, response: Response) -> Job:
    job = container.privacy.request_export(principal)
    response.headers["Location"] = f"/api/v1/jobs/{job.job_id}"
    response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return job


@router.get("/exports/{job_id}", response_model=DownloadLink, summary="Download an export")
def download_export(job_id: str, principal: PrincipalDep, container: ContainerDep) -> DownloadLink:
    return container.privacy.download_export(principal, job_id)


@router.post(
    "/deletion",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeletionAccepted,
    summary="Delete my account",
    description="Irreversible. Asks for the password again. Cases and documents others can "
    "see, and organizations you alone own, go to `successor_id` (409 `SUCCESSOR_REQUIRED` "
    "without one); everything else of yours is deleted, with its files and vectors. Your "
    "tokens stop working at once; the erasing finishes in the background.",
)
def delete_account(
    body: AccountDeletion, principal: PrincipalDep, container: ContainerDep
) -> DeletionAccepted:
    return container.privacy.delete_account(principal, body)
