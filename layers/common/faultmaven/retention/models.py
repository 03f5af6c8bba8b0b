"""What a retention run did (or, dry, would do), job by job."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Schedule(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    ALL = "all"


class RetentionJob(StrEnum):
    SESSION_INDEXES = "session_indexes"
    FINISHED_JOBS = "finished_jobs"
    RESOLVED_CASES = "resolved_cases"
    CASE_MEMORY = "case_memory"
    ARTIFACTS = "artifacts"
    AUDIT_EVENTS = "audit_events"
    HISTORY_SESSIONS = "history_sessions"
    PROTECTION_EVENTS = "protection_events"


J = RetentionJob

# Redis sweeps are cheap and their garbage piles up quickly: hourly. PostgreSQL and S3 work
# counts in days: daily. Within a cadence the order matters: working memory goes before
# the artifacts, whose deletion would take chunks with it and make a dry run's counts
# differ from the real run's.
CADENCES: dict[Schedule, tuple[RetentionJob, ...]] = {
    Schedule.HOURLY: (J.SESSION_INDEXES, J.FINISHED_JOBS),
    Schedule.DAILY: (
        J.RESOLVED_CASES,
        J.CASE_MEMORY,
        J.ARTIFACTS,
        J.AUDIT_EVENTS,
        J.HISTORY_SESSIONS,
        J.PROTECTION_EVENTS,
    ),
}
CADENCES[Schedule.ALL] = CADENCES[Schedule.HOURLY] + CADENCES[Schedule.DAILY]


class JobReport(BaseModel):
    """`examined` counts what the rule was evaluated on (index entries, jobs, cases,
    cases holding chunks, evidence, audit events, history sessions); `deleted`/`archived`
    what was removed or archived, or on a dry run what would have been. `complete` is
    False when the run stopped early (time budget); the next run carries on where it left
    off."""

    job: RetentionJob
    dry_run: bool
    cutoff: datetime | None = None
    examined: int = 0
    deleted: int = 0
    archived: int = 0
    details: dict[str, int] = Field(default_factory=dict)
    complete: bool = True


class RetentionReport(BaseModel):
    schedule: Schedule
    now: datetime
    dry_run: bool
    jobs: list[JobReport]

    @property
    def complete(self) -> bool:
        return all(job.complete for job in self.jobs)
