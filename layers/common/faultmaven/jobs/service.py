"""Job progress: written by the pipeline steps, read by whoever may read the case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import NotFoundError
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.ports import KeyValueStore
from faultmaven.jobs.models import FINISHED, Job, JobStatus
from faultmaven.jobs.store import JobStore

# Given the caller and a case id, raise NotFoundError unless the caller may read the case.
ReadCheck = Callable[[Principal, str], object]


class JobService:
    def __init__(self, kv: KeyValueStore, *, ttl_seconds: int, can_read_case: ReadCheck) -> None:
        self._store = JobStore(kv, ttl_seconds)
        self._can_read_case = can_read_case

    def create(self, *, case_id: str, evidence_id: str) -> Job:
        now = utcnow()
        job = Job(
            job_id=new_id("job"),
            case_id=case_id,
            evidence_id=evidence_id,
            created_at=now,
            updated_at=now,
        )
        self._store.save(job)
        return job

    def create_for_case(self, *, kind: str, case_id: str, stage: str) -> Job:
        """A job of a case that is not an upload (an investigation's run): whoever may
        read the case may poll it."""
        now = utcnow()
        job = Job(
            job_id=new_id("job"),
            kind=kind,
            case_id=case_id,
            stage=stage,
            created_at=now,
            updated_at=now,
        )
        self._store.save(job)
        return job

    def create_for_user(self, *, kind: str, owner_id: str) -> Job:
        """A job only its owner may poll (and nobody else learns it exists)."""
        now = utcnow()
        job = Job(
            job_id=new_id("job"), kind=kind, owner_id=owner_id, created_at=now, updated_at=now
        )
        self._store.save(job)
        return job

    def get(self, principal: Principal, job_id: str) -> Job:
        job = self._store.get(job_id) if looks_like_id(job_id, "job") else None
        if job is None:
            raise NotFoundError("Job not found", error_code="JOB_NOT_FOUND")
        if job.case_id is None:
            if job.owner_id != principal.user_id:
                raise NotFoundError("Job not found", error_code="JOB_NOT_FOUND")
            return job
        try:
            self._can_read_case(principal, job.case_id)
        except NotFoundError:
            raise NotFoundError("Job not found", error_code="JOB_NOT_FOUND") from None
        return job

    def peek(self, job_id: str) -> Job | None:
        """The job as stored, for the worker that runs it (no caller to authorize)."""
        return self._store.get(job_id) if looks_like_id(job_id, "job") else None

    def progress(self, job_id: str, *, stage: str, progress: int) -> None:
        """Record a step's progress; never moves a finished job or goes backwards (a
        retried step must not rewind the bar)."""
        job = self._store.get(job_id)
        if job is None or job.status in FINISHED:
            return
        self._store.save(
            job.model_copy(
                update={
                    "status": JobStatus.RUNNING,
                    "stage": stage,
                    "progress": max(job.progress, min(progress, 99)),
                    "updated_at": utcnow(),
                }
            )
        )

    def finish(
        self, job_id: str, *, error: str | None = None, result_path: str | None = None
    ) -> None:
        job = self._store.get(job_id)
        if job is None:
            return
        status = JobStatus.FAILED if error else JobStatus.COMPLETED
        self._store.save(
            job.model_copy(
                update={
                    "status": status,
                    "stage": "failed" if error else "completed",
                    "progress": job.progress if error else 100,
                    "error": error,
                    "updated_at": utcnow(),
                    "result_path": None if error else result_path,
                }
            )
        )

    def delete(self, job_id: str) -> None:
        self._store.delete(job_id)

    def attach(self, job_id: str, name: str, value: str) -> None:
        """Keep a document with the job for as long as the job lives (the request a
        background worker runs, the result it produced)."""
        self._store.put_data(job_id, name, value)

    def claim(self, job_id: str) -> bool:
        """Whether this worker is the one to run the job: true once, so a task delivered
        twice (Lambda retries an asynchronous event) runs once."""
        return self._store.claim(job_id)

    def attached(self, job_id: str, name: str) -> str | None:
        """What `attach` kept; authorize the caller with `get` first."""
        return self._store.get_data(job_id, name)

    def sweep_finished(
        self, cursor: int, *, count: int, cutoff: datetime, dry_run: bool
    ) -> tuple[int, int, int]:
        """One step of a walk over every job, deleting finished ones last updated at or
        before `cutoff`. Jobs expire by their TTL; this catches one that lost its expiry
        (a restored snapshot, a PERSIST by hand). Returns the cursor to continue from (0
        when done), jobs examined and deleted."""
        cursor, job_ids = self._store.scan(cursor, count)
        examined = deleted = 0
        for job in self._store.get_many(job_ids):
            if job is None:
                continue
            examined += 1
            if job.status in FINISHED and job.updated_at <= cutoff:
                deleted += 1
                if not dry_run:
                    self._store.delete(job.job_id)
        return cursor, examined, deleted
