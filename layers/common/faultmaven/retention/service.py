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
from typing import TYPE_CHECKING

from faultmaven.audit import service as audit
from faultmaven.cases import lifecycle
from faultmaven.cases.models import CaseStatus
from faultmaven.core.clock import utcnow
from faultmaven.core.logging import logger
from faultmaven.core.ports import Database
from faultmaven.core.settings import Settings
from faultmaven.history import service as history
from faultmaven.protection import service as protection
from faultmaven.retention.models import (
    CADENCES,
    JobReport,
    RetentionJob,
    RetentionReport,
    Schedule,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.cases.service import CaseService
    from faultmaven.evidence.service import EvidenceService
    from faultmaven.jobs.service import JobService
    from faultmaven.sessions.service import SessionService

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
    protection_events_after: timedelta = timedelta(days=30)
    # The investigation history is an audit record: it follows the audit period.
    history_after: timedelta = timedelta(days=365)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            case_archive_after=timedelta(days=settings.retention_case_archive_days),
            artifacts_after=timedelta(days=settings.retention_artifact_days),
            case_memory_after=timedelta(days=settings.retention_case_memory_days),
            audit_after=timedelta(days=settings.retention_audit_days),
            finished_jobs_after=timedelta(seconds=settings.job_ttl_seconds),
            batch_size=settings.retention_batch_size,
            protection_events_after=timedelta(days=settings.retention_protection_event_days),
            history_after=timedelta(days=settings.retention_audit_days),
        )


class _OutOfTimeError(Exception):
    """The time budget ran out between two batches."""


# How much later than its chunk a case-memory vector may be indexed (the embedding runs
# right after the chunks are stored): retention deletes vectors this much past the
# cutoff, at worst an hour early, rather than leave one behind for ever.
VECTOR_LAG = timedelta(hours=1)


class RetentionService:
    """Walks each domain's data through that domain's service: the policy (what is due,
    when to stop) is here, the reading and deleting is theirs."""

    def __init__(
        self,
        database: Database,
        *,
        cases: CaseService,
        evidence: EvidenceService,
        sessions: SessionService,
        jobs: JobService,
        policy: RetentionPolicy,
    ) -> None:
        self._db = database
        self._cases = cases
        self._evidence = evidence
        self._sessions = sessions
        self._jobs = jobs
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
        a session whose record has expired or was ended."""
        # Counted as they happen: a run stopped by its time budget reports what it did.
        details = report.details = {"user_index_entries": 0, "client_pointers": 0}
        steps = (
            ("user_index_entries", self._sessions.sweep_user_indexes),
            ("client_pointers", self._sessions.sweep_client_pointers),
        )
        for name, sweep in steps:
            for examined, removed in self._walk(
                lambda cursor, sweep=sweep: sweep(  # type: ignore[misc]
                    cursor, count=self.policy.batch_size, dry_run=report.dry_run
                ),
                stop,
            ):
                report.examined += examined
                report.deleted += removed
                details[name] += removed

    def _finished_jobs(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Jobs expire by their Redis TTL, and no index refers to them, so normally there
        is nothing to do. This catches a finished job that lost its expiry."""
        cutoff = report.cutoff = now - self.policy.finished_jobs_after
        for examined, deleted in self._walk(
            lambda cursor: self._jobs.sweep_finished(
                cursor, count=self.policy.batch_size, cutoff=cutoff, dry_run=report.dry_run
            ),
            stop,
        ):
            report.examined += examined
            report.deleted += deleted

    def _walk(
        self, step: Callable[[int], tuple[int, int, int]], stop: StopWhen
    ) -> Iterator[tuple[int, int]]:
        """Drive a keyspace walk step by step, yielding each step's counts, until its
        cursor comes back to 0 or the time budget is spent."""
        cursor = 0
        while True:
            cursor, first, second = step(cursor)
            yield first, second
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
            ids, archived = self._cases.archive_resolved(
                RESOLVED_STATES,
                cutoff,
                reason=reason,
                after=after,
                limit=self.policy.batch_size,
                dry_run=report.dry_run,
            )
            if not ids:
                return
            after = ids[-1]
            report.examined += len(ids)
            report.archived += archived
            if not self._more(len(ids), stop):
                return

    def _case_memory(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """A closed case's working memory (its evidence chunks), once the case has been
        closed for the period (see `EvidenceService.expire_case_memory`)."""
        cutoff = report.cutoff = now - self.policy.case_memory_after
        closed_cases = 0
        after: str | None = None
        while True:
            ids, closed, deleted = self._evidence.expire_case_memory(
                CLOSED_STATES,
                cutoff,
                vector_lag=VECTOR_LAG,
                after=after,
                limit=self.policy.batch_size,
                dry_run=report.dry_run,
            )
            if not ids:
                break
            after = ids[-1]
            report.examined += len(ids)
            report.deleted += deleted
            closed_cases += closed
            if not self._more(len(ids), stop):
                break
        report.details = {"cases": closed_cases}

    def _artifacts(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Evidence past the artifact period, of cases that are over (closed or deleted;
        an open investigation keeps its evidence rows, and the bucket's lifecycle rule
        alone expires their raw files)."""
        cutoff = report.cutoff = now - self.policy.artifacts_after
        after: str | None = None
        while True:
            last, examined, deleted = self._evidence.expire_artifacts(
                CLOSED_STATES,
                cutoff,
                after=after,
                limit=self.policy.batch_size,
                dry_run=report.dry_run,
            )
            if last is None:
                return
            after = last
            report.examined += examined
            report.deleted += deleted
            if not self._more(examined, stop):
                return

    def _audit_events(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        cutoff = report.cutoff = now - self.policy.audit_after
        self._expire_rows(
            report,
            stop,
            lambda session, after: audit.expire(
                session, cutoff, after=after, limit=self.policy.batch_size, dry_run=report.dry_run
            ),
        )

    def _history_sessions(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Investigation and preprocessing sessions finished (or, never finished,
        started) before the audit period, with their stages and interactions."""
        cutoff = report.cutoff = now - self.policy.history_after
        self._expire_rows(
            report,
            stop,
            lambda session, after: history.expire_sessions(
                session, cutoff, after=after, limit=self.policy.batch_size, dry_run=report.dry_run
            ),
        )

    def _protection_events(self, report: JobReport, now: datetime, stop: StopWhen) -> None:
        """Rate-limit refusals and reputation changes, kept for forensics only."""
        cutoff = report.cutoff = now - self.policy.protection_events_after
        self._expire_rows(
            report,
            stop,
            lambda session, after: protection.expire_events(
                session, cutoff, after=after, limit=self.policy.batch_size, dry_run=report.dry_run
            ),
        )

    def _expire_rows(
        self,
        report: JobReport,
        stop: StopWhen,
        batch: Callable[[Session, str | None], tuple[list[str], int]],
    ) -> None:
        """Drive a keyset sweep of rows whose owner deletes them in the caller's
        transaction: one batch (ids after `after`, and how many went) per transaction."""
        after: str | None = None
        while True:
            with self._db.session() as session:
                ids, deleted = batch(session, after)
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
            RetentionJob.HISTORY_SESSIONS: self._history_sessions,
            RetentionJob.PROTECTION_EVENTS: self._protection_events,
        }[job]
