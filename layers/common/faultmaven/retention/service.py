"""The retention policy, one job per kind of data.

Every job walks its data in bounded batches in key order (a keyset, never an offset), so
memory stays flat however much has piled up, a dry run walks exactly what a real run
would, and a run stopped by its time budget is simply continued by the next one. Every
job is idempotent: what it removes no longer matches, what it archives no longer
qualifies, so running it twice does nothing the second time.

Cutoffs come from the caller's `now` (the scheduled instant on AWS), so a delayed
delivery cuts where the schedule meant to; what the jobs record (transitions, audit
events) carries the real time at which it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from faultmaven.audit import service as audit
from faultmaven.cases import lifecycle
from faultmaven.cases import store as cases
from faultmaven.cases.models import CaseStatus
from faultmaven.core.clock import utcnow
from faultmaven.core.logging import logger
from faultmaven.core.ports import CaseMemory, Database, KeyValueStore
from faultmaven.core.settings import Settings
from faultmaven.evidence import store as evidence
from faultmaven.evidence.service import EvidenceService
from faultmaven.jobs.models import FINISHED
from faultmaven.jobs.store import JobStore
from faultmaven.retention.models import (
    CADENCES,
    JobReport,
    RetentionJob,
    RetentionReport,
    Schedule,
)
from faultmaven.sessions.store import SessionStore

T = TypeVar("T")
StopWhen = Callable[[], bool]

# Resolved and not reopened: `resolved_at` is set in these and only these open states.
RESOLVED_STATES = frozenset({CaseStatus.RESOLVED, CaseStatus.VALIDATED, CaseStatus.DOCUMENTING})
# Closed for the working memory: resolved (and not reopened) or archived.
CLOSED_STATES = RESOLVED_STATES | lifecycle.CLOSED


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    case_archive_after: timedelta
    artifacts_after: timedelta
    case_memory_after: timedelta
    audit_after: timedelta
    finished_jobs_after: timedelta
    batch_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            case_archive_after=timedelta(days=settings.retention_case_archive_days),
            artifacts_after=timedelta(days=settings.retention_artifact_days),
            case_memory_after=timedelta(days=settings.retention_case_memory_days),
            audit_after=timedelta(days=settings.retention_audit_days),
            finished_jobs_after=timedelta(seconds=settings.job_ttl_seconds),
            batch_size=settings.retention_batch_size,
        )


class _OutOfTimeError(Exception):
    """The time budget ran out between two batches."""


# How much later than its chunk a case-memory vector may be indexed (the embedding runs
# right after the chunks are stored): retention deletes vectors this much past the
# cutoff, at worst an hour early, rather than leave one behind for ever.
VECTOR_LAG = timedelta(hours=1)


class RetentionService:
    def __init__(
        self,
        database: Database,
        kv: KeyValueStore,
        evidence_service: EvidenceService,
        *,
        policy: RetentionPolicy,
        memory: Callable[[], CaseMemory] | None = None,
    ) -> None:
        self._db = database
        self._evidence = evidence_service
        self._memory = memory
        self._sessions = SessionStore(kv)
        self._jobs = JobStore(kv, int(policy.finished_jobs_after.total_seconds()))
        self.policy = policy

    def run(
        self,
        schedule: Schedule,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        stop_when: StopWhen | None = None,
    ) -> RetentionReport:
        """Run the jobs of one cadence. `stop_when` is asked between batches (a Lambda's
        remaining time); once it says stop, the rest is left for the next run."""
        now = now or utcnow()
        stop = stop_when or (lambda: False)
        reports: list[JobReport] = []
        for job in CADENCES[schedule]:
            report = JobReport(job=job, dry_run=dry_run)
            reports.append(report)
            if stop():
                report.complete = False
                continue
            try:
                self._job(job)(report, now, stop)
            except _OutOfTimeError:
                report.complete = False
        result = RetentionReport(schedule=schedule, now=now, dry_run=dry_run, jobs=reports)
        logger.info(
            "retention run",
            extra={
                "schedule": schedule.value,
                "dry_run": dry_run,
                "jobs": {
                    r.job.value: {
                        "examined": r.examined,
                        "deleted": r.deleted,
                        "archived": r.archived,
                        "complete": r.complete,
                    }
                    for r in reports
                },
            },
        )
        return result

    # -- Redis -------------------------------------------------------------------------
    def _session_indexes(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Entries of `user_sessions:{user}` and `session_client:{user}:{client}` that name
        a session whose record has expired or was ended. Nothing else can remove the
        entries of a user who never lists or creates sessions again."""
        # Counted as they happen: a run stopped by its time budget reports what it did.
        report.details = {"user_index_entries": 0, "client_pointers": 0}
        for user_ids in self._walk(self._sessions.scan_user_indexes, stop):
            for user_id in user_ids:
                members = sorted(self._sessions.user_session_ids(user_id))
                for chunk in _chunks(members, self.policy.batch_size):
                    live = self._sessions.existing(chunk)
                    stale = [m for m in chunk if m not in live]
                    report.examined += len(chunk)
                    if stale and not report.dry_run:
                        self._sessions.forget(user_id, *stale)
                    report.details["user_index_entries"] += len(stale)
                    report.deleted += len(stale)
        for pairs in self._walk(self._sessions.scan_client_pointers, stop):
            targets = self._sessions.client_session_ids(pairs)
            named = [t for t in targets if t is not None]
            live = self._sessions.existing(named) if named else set()
            for (user_id, client_id), target in zip(pairs, targets, strict=True):
                if target is None:  # expired between the scan and the read
                    continue
                report.examined += 1
                if target in live:
                    continue
                if report.dry_run or self._sessions.release_client(user_id, client_id, target):
                    report.details["client_pointers"] += 1
                    report.deleted += 1

    def _finished_jobs(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Jobs expire by their Redis TTL, and no index refers to them, so normally there
        is nothing to do. This catches a finished job that lost its expiry (a restored
        snapshot, a PERSIST by hand) and would otherwise live forever."""
        cutoff = report.cutoff = now - self.policy.finished_jobs_after
        for job_ids in self._walk(self._jobs.scan, stop):
            for job in self._jobs.get_many(job_ids):
                if job is None:
                    continue
                report.examined += 1
                if job.status in FINISHED and job.updated_at <= cutoff:
                    report.deleted += 1
                    if not report.dry_run:
                        self._jobs.delete(job.job_id)

    def _walk(
        self, scan: Callable[[int, int], tuple[int, list[T]]], stop: StopWhen
    ) -> Iterator[list[T]]:
        cursor = 0
        while True:
            cursor, batch = scan(cursor, self.policy.batch_size)
            yield batch
            if cursor == 0:
                return
            if stop():
                raise _OutOfTimeError

    # -- PostgreSQL and S3 ----------------------------------------------------------------
    def _resolved_cases(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Archive cases left resolved (or validated, documenting) for the period since
        their last status move: a recorded transition by the system, like any other, so
        the history and the audit trail say who (nobody), when and why."""
        cutoff = report.cutoff = now - self.policy.case_archive_after
        days = self.policy.case_archive_after.days
        reason = f"Archived by retention: resolved with no status change for {days} days"
        after: str | None = None
        while True:
            with self._db.session() as session:
                ids = cases.in_status_since(
                    session, RESOLVED_STATES, cutoff, after=after, limit=self.policy.batch_size
                )
                if not ids:
                    return
                after = ids[-1]
                report.examined += len(ids)
                if report.dry_run:
                    report.archived += len(ids)
                else:
                    # Checked again under the lock: someone may have moved it meanwhile.
                    for case in cases.lock_live(session, ids):
                        current = CaseStatus(case.status)
                        if (
                            current in RESOLVED_STATES
                            and case.status_changed_at <= cutoff
                            and lifecycle.can_transition(current, CaseStatus.ARCHIVED)
                        ):
                            cases.record_transition(
                                session,
                                case,
                                CaseStatus.ARCHIVED,
                                actor_id=None,
                                reason=reason,
                                now=utcnow(),
                            )
                            report.archived += 1
            if not self._more(len(ids), stop):
                return

    def _case_memory(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """A closed case's working memory (its evidence chunks), once the case has been
        closed for the period. Chunks indexed after the closing (evidence added to a
        resolved case) get the same period from their own creation. The evidence rows,
        with their summaries and insights, stay."""
        cutoff = report.cutoff = now - self.policy.case_memory_after
        closed_cases = 0
        after: str | None = None
        while True:
            with self._db.session() as session:
                ids = evidence.cases_with_chunks(session, after=after, limit=self.policy.batch_size)
                if not ids:
                    break
                after = ids[-1]
                report.examined += len(ids)
                closed = cases.closed_before(
                    session, ids, CLOSED_STATES, cutoff, lock=not report.dry_run
                )
                if closed and not report.dry_run and self._memory is not None:
                    # The vectors first: if that fails, the chunks stay and the next run
                    # finds the case again. A vector is indexed moments after its chunk
                    # is stored, so the cutoff gets VECTOR_LAG of slack.
                    memory = self._memory()
                    for case_id in closed:
                        memory.forget_case(case_id, indexed_before=cutoff + VECTOR_LAG)
                if closed:
                    count = (
                        evidence.count_chunks(session, closed, cutoff)
                        if report.dry_run
                        else evidence.delete_chunks(session, closed, cutoff)
                    )
                    report.deleted += count
                    closed_cases += len(closed)
            if not self._more(len(ids), stop):
                break
        report.details = {"cases": closed_cases}

    def _artifacts(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Evidence past the artifact period, of cases that are over (closed or deleted;
        an open investigation keeps its evidence rows, and the bucket's lifecycle rule
        alone expires their raw files). As `EvidenceService.delete` does it, the
        row (its chunks cascade) and an audit event first, committed, then the raw
        artifact, the working files and the job (`EvidenceService.discard_files`)."""
        cutoff = report.cutoff = now - self.policy.artifacts_after
        after: str | None = None
        while True:
            with self._db.session() as session:
                batch = evidence.created_before(
                    session, cutoff, CLOSED_STATES, after=after, limit=self.policy.batch_size
                )
                if not batch:
                    return
                after = batch[-1].evidence_id
                report.examined += len(batch)
                if report.dry_run:
                    report.deleted += len(batch)
                    gone = []
                else:
                    gone = evidence.delete_created_before(
                        session, [e.evidence_id for e in batch], cutoff, CLOSED_STATES
                    )
                    for item in gone:
                        audit.record(
                            session,
                            actor_id=None,
                            action="evidence.deleted",
                            object_type="evidence",
                            object_id=item.evidence_id,
                            case_id=item.case_id,
                            details={"filename": item.filename, "reason": "retention"},
                        )
                    report.deleted += len(gone)
            self._evidence.discard_files(*gone)
            if not self._more(len(batch), stop):
                return

    def _audit_events(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        cutoff = report.cutoff = now - self.policy.audit_after
        after: str | None = None
        while True:
            with self._db.session() as session:
                ids, deleted = audit.expire(
                    session,
                    cutoff,
                    after=after,
                    limit=self.policy.batch_size,
                    dry_run=report.dry_run,
                )
            if not ids:
                return
            after = ids[-1]
            report.examined += len(ids)
            report.deleted += deleted
            if not self._more(len(ids), stop):
                return

    def _more(self, size: int, stop: StopWhen) -> bool:
        """Whether to fetch another batch: not after a short one (nothing more to find),
        and not once the time budget is spent."""
        if size < self.policy.batch_size:
            return False
        if stop():
            raise _OutOfTimeError
        return True

    def _job(self, job: RetentionJob) -> Callable[[JobReport, datetime, StopWhen], None]:
        return {
            RetentionJob.SESSION_INDEXES: self._session_indexes,
            RetentionJob.FINISHED_JOBS: self._finished_jobs,
            RetentionJob.RESOLVED_CASES: self._resolved_cases,
            RetentionJob.CASE_MEMORY: self._case_memory,
            RetentionJob.ARTIFACTS: self._artifacts,
            RetentionJob.AUDIT_EVENTS: self._audit_events,
        }[job]


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
