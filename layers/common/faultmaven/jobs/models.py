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
    job_id: str
    kind: str = "preprocessing"
    case_id: str
    evidence_id: str
    status: JobStatus = JobStatus.QUEUED
    progress: int = Field(default=0, ge=0, le=100)
    stage: str = "awaiting upload"
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    result_url: str | None = None
