"""Jobs: the progress of long work (preprocessing an upload), kept in Redis for a day."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})


class Job(BaseModel):
    """Preprocessing jobs belong to a case (whoever may read it may poll them); a user's
    own jobs (a data export) belong to that user alone."""

    job_id: str
    kind: str = "preprocessing"
    case_id: str | None = None
    evidence_id: str | None = None
    owner_id: str | None = None
    status: JobStatus = JobStatus.QUEUED
    progress: int = Field(default=0, ge=0, le=100)
    stage: str = "awaiting upload"
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    result_url: str | None = None
    # Where the finished result is, for jobs whose result is not an evidence.
    result_path: str | None = None
