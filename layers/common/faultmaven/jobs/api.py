"""/api/v1/jobs: poll long work. 200 with `Retry-After` while it runs, 303 to the result
when it is done, 200 with the reason when it failed."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.jobs.models import Job, JobStatus

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)
POLL_AFTER_SECONDS = 1


@router.get(
    "/{job_id}",
    response_model=Job,
    responses={
        303: {"description": "Completed: `Location` is the result (the evidence, an export)"}
    },
)
def get_job(
    job_id: str, principal: PrincipalDep, container: ContainerDep, response: Response
) -> Job | Response:
    job = container.jobs.get(principal, job_id)
    result = job.result_path or f"/api/v1/evidence/{job.evidence_id}"
    if job.status is JobStatus.COMPLETED:
        return Response(status_code=status.HTTP_303_SEE_OTHER, headers={"Location": result})
    if job.status is not JobStatus.FAILED:
        response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return job.model_copy(update={"result_url": result if job.status is JobStatus.FAILED else None})
