"""A chat turn that brings files with it (the copilot's `POST …/turns`).

The attachments are stored server-side in S3 and preprocessed by the same notification
and state machine as any upload, and the agent answers once it can read them. That fits
in the request when preprocessing is quick: the turn's own deadline (25 s) plus this
wait stays inside API Gateway's 29 s, counted from when the request arrived. When the
files take longer, the turn becomes a background job (an asynchronous Lambda on AWS, a
worker thread locally): the client polls the job, and its result is the turn's answer.
A status change asked with the turn (resolve, close) is made after the answer, in
either path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, Field

from faultmaven.agent.models import AgentResponse, QueryRequest
from faultmaven.agent.service import AgentService
from faultmaven.auth.principal import Principal, PrincipalOf
from faultmaven.cases.models import CaseStatus, StatusChange
from faultmaven.cases.service import CaseService
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import AppError, NotFoundError
from faultmaven.core.logging import logger
from faultmaven.core.ports import TaskQueue
from faultmaven.evidence.models import EvidenceOut, EvidenceStatus
from faultmaven.evidence.service import EvidenceService
from faultmaven.jobs.models import Job, JobStatus
from faultmaven.jobs.service import JobService

TURN_TASK = "agent.attached_turn"
TURN_JOB_KIND = "chat_turn"
# API Gateway ends a request at 29 s; a second is kept for the reply itself.
REQUEST_SECONDS = 28.0
# A background turn that has not finished this long after its last progress (the waits,
# the turn's deadline and a margin) was lost with its worker: its job says so.
LOST_AFTER_SECONDS = 120.0
_READ = frozenset({EvidenceStatus.COMPLETED, EvidenceStatus.FAILED})


@dataclass(frozen=True)
class Attachment:
    """One file of the turn as it arrived: the name is a label (cleaned when stored),
    the bytes are the artifact."""

    filename: str
    content_type: str
    data: bytes
    source: str = "upload"  # "text" for pasted content


class AttachedTurnRequest(BaseModel):
    """What a background turn runs, kept with its job. The question was validated (and is
    redacted again by the turn before it reaches a model or a store)."""

    user_id: str
    case_id: str
    query: QueryRequest
    evidence_ids: list[str]
    duplicates: list[str] = Field(default_factory=list)
    move_to: CaseStatus | None = None


class AttachedTurnResult(BaseModel):
    """The agent's answer and the attachments as they were when it answered."""

    response: AgentResponse
    attachments: list[EvidenceOut]
    case_status: CaseStatus
    # Attachments the case already had (sent again): they are that evidence.
    duplicates: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class TurnOutcome:
    """Either the answer (`result`) or the job that will produce it."""

    result: AttachedTurnResult | None
    job: Job | None


class AttachedTurnService:
    def __init__(
        self,
        agent: AgentService,
        cases: CaseService,
        evidence: EvidenceService,
        jobs: JobService,
        tasks: TaskQueue,
        *,
        principal_of: PrincipalOf,
        wait_seconds: float,
        turn_deadline_seconds: float,
        background_wait_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._cases = cases
        self._evidence = evidence
        self._jobs = jobs
        self._tasks = tasks
        self._principal_of = principal_of
        self._wait_seconds = wait_seconds
        self._deadline = turn_deadline_seconds
        self._background_wait = background_wait_seconds
        self._sleep = sleep
        self._clock = clock

    def start(
        self,
        principal: Principal,
        case_id: str,
        query: QueryRequest,
        *,
        attachments: Sequence[Attachment] = (),
        move_to: CaseStatus | None = None,
        received_at: float | None = None,
    ) -> TurnOutcome:
        """Store the attachments, then answer within the request when the files are read
        in time (the wait shrinks by what the request has already spent since
        `received_at`, a `clock()` reading), or hand the turn to a background job."""
        accepted = [
            self._evidence.submit_bytes(
                principal,
                case_id,
                filename=item.filename,
                content_type=item.content_type,
                data=item.data,
                source=item.source,
                deduplicate=True,
            )
            for item in attachments
        ]
        ids = list(dict.fromkeys(a.evidence_id for a in accepted))
        duplicates = [a.evidence_id for a in accepted if a.duplicate_of]
        spent = self._clock() - received_at if received_at is not None else 0.0
        budget = min(self._wait_seconds, REQUEST_SECONDS - self._deadline - spent)
        read = self._wait(principal, ids, max(budget, 0.0))
        if budget >= 0 and all(e.status in _READ for e in read):
            answered = self._answer(principal, case_id, query, read, move_to)
            return TurnOutcome(
                result=answered.model_copy(update={"duplicates": duplicates}), job=None
            )
        job = self._jobs.create_for_case(
            kind=TURN_JOB_KIND, case_id=case_id, stage="reading the attachments"
        )
        request = AttachedTurnRequest(
            user_id=principal.user_id,
            case_id=case_id,
            query=query,
            evidence_ids=ids,
            duplicates=duplicates,
            move_to=move_to,
        )
        self._jobs.attach(job.job_id, "request", request.model_dump_json())
        try:
            self._tasks.submit(TURN_TASK, {"job_id": job.job_id})
        except Exception:
            self._jobs.finish(job.job_id, error="The turn could not be started; please ask again")
            raise
        return TurnOutcome(result=None, job=job)

    def _answer(
        self,
        principal: Principal,
        case_id: str,
        query: QueryRequest,
        read: list[EvidenceOut],
        move_to: CaseStatus | None,
    ) -> AttachedTurnResult:
        response = self._agent.turn(principal, case_id, query)
        status = CaseStatus(response.case_status)
        if move_to is not None and move_to is not status:
            status = self._cases.change_status(
                principal,
                case_id,
                StatusChange(status=move_to, reason="asked for with a chat turn"),
            ).status
        return AttachedTurnResult(response=response, attachments=read, case_status=status)

    def run_job(self, job_id: str) -> None:
        """The background half: wait for the attachments (up to the background wait),
        answer, keep the answer with the job. Runs once per job, however often the task
        is delivered; a failure is the job's error, in words a user can act on."""
        raw = self._jobs.attached(job_id, "request")
        if raw is None or not self._jobs.claim(job_id):
            return  # expired, or another delivery of the same task has it
        request = AttachedTurnRequest.model_validate_json(raw)
        self._jobs.progress(job_id, stage="reading the attachments", progress=10)
        principal = self._principal_of(request.user_id, acting_as=job_id)
        if principal is None:
            self._jobs.finish(job_id, error="The account that asked is no longer active")
            return
        try:
            read = self._wait(principal, request.evidence_ids, self._background_wait)
            self._jobs.progress(job_id, stage="answering", progress=60)
            result = self._answer(
                principal, request.case_id, request.query, read, request.move_to
            ).model_copy(update={"duplicates": request.duplicates})
            self._jobs.attach(job_id, "result", result.model_dump_json())
        except AppError as exc:
            self._jobs.finish(job_id, error=exc.message)
            return
        except Exception as exc:
            logger.error(
                "background turn failed", extra={"job_id": job_id, "error": type(exc).__name__}
            )
            self._jobs.finish(job_id, error="The turn failed; please ask again")
            return
        # On the native jobs API the result is where the answer is stored: the messages.
        self._jobs.finish(job_id, result_path=f"/api/v1/cases/{request.case_id}/messages")

    def job(self, principal: Principal, job_id: str) -> tuple[Job, AttachedTurnResult | None]:
        """A turn's job as its case's readers may see it, with the answer once done. A job
        whose worker vanished (killed, timed out) is failed here, so the client stops
        polling with a reason instead of waiting for a day."""
        job = self._jobs.get(principal, job_id)
        if job.kind != TURN_JOB_KIND:
            raise NotFoundError("Job not found", error_code="JOB_NOT_FOUND")
        silent = utcnow() - job.updated_at
        lost = timedelta(seconds=self._background_wait + self._deadline + LOST_AFTER_SECONDS)
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and silent > lost:
            self._jobs.finish(job_id, error="The turn did not finish; please ask again")
            job = self._jobs.get(principal, job_id)
        raw = self._jobs.attached(job_id, "result")
        result = AttachedTurnResult.model_validate_json(raw) if raw is not None else None
        return job, result

    def _wait(
        self, principal: Principal, evidence_ids: Sequence[str], seconds: float
    ) -> list[EvidenceOut]:
        """The attachments as they are once every one is read or `seconds` have passed
        (polled from 0.2 s, backing off to 2 s)."""
        until = self._clock() + seconds
        pause = 0.2
        while True:
            read = [self._evidence.status_of(principal, e) for e in evidence_ids]
            left = until - self._clock()
            if all(e.status in _READ for e in read) or left <= 0:
                return read
            self._sleep(min(pause, left))
            pause = min(pause * 1.5, 2.0)
