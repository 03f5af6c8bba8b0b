"""A chat turn that brings files with it (the copilot's `POST …/turns`).

The attachments are stored server-side in S3 and preprocessed by the same notification
and state machine as any upload, and the agent answers once it can read them. That fits
in the request when preprocessing is quick: the turn's own deadline (25 s) plus this
wait stays inside API Gateway's 29 s. When the files take longer, the turn becomes a
background job (an asynchronous Lambda on AWS, a worker thread locally): the client
polls the job, and its result is the turn's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from faultmaven.agent.models import AgentResponse, QueryRequest
from faultmaven.agent.service import AgentService
from faultmaven.auth.principal import Principal
from faultmaven.core.errors import AppError, NotFoundError
from faultmaven.core.logging import logger
from faultmaven.core.ports import TaskQueue
from faultmaven.evidence.models import EvidenceOut, EvidenceStatus
from faultmaven.evidence.service import EvidenceService
from faultmaven.jobs.models import Job, JobStatus
from faultmaven.jobs.service import JobService
from faultmaven.preprocessing.redact import redact

TURN_TASK = "agent.attached_turn"
TURN_JOB_KIND = "chat_turn"
POLL_SECONDS = 0.2
_READ = frozenset({EvidenceStatus.COMPLETED, EvidenceStatus.FAILED})

# The user as background work acts for them (`AuthService.principal_of`).
PrincipalOf = Callable[..., Principal | None]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    source: str = "upload"  # "text" for pasted content


class AttachedTurnRequest(BaseModel):
    """What a background turn runs, kept with its job. The question is kept redacted."""

    user_id: str
    case_id: str
    session_id: str
    query: str
    evidence_ids: list[str]
    consent_to_investigate: bool = False


class AttachedTurnResult(BaseModel):
    response: AgentResponse
    attachments: list[EvidenceOut]


@dataclass(frozen=True)
class TurnOutcome:
    """Either the answer (`result`) or the job that will produce it."""

    result: AttachedTurnResult | None
    job: Job | None
    attachments: list[EvidenceOut]


class AttachedTurnService:
    def __init__(
        self,
        agent: AgentService,
        evidence: EvidenceService,
        jobs: JobService,
        tasks: TaskQueue,
        *,
        principal_of: PrincipalOf,
        wait_seconds: float,
        background_wait_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._evidence = evidence
        self._jobs = jobs
        self._tasks = tasks
        self._principal_of = principal_of
        self._wait_seconds = wait_seconds
        self._background_wait = background_wait_seconds
        self._sleep = sleep
        self._clock = clock

    def start(
        self,
        principal: Principal,
        case_id: str,
        *,
        session_id: str,
        query: str,
        attachments: Sequence[Attachment] = (),
        consent_to_investigate: bool = False,
    ) -> TurnOutcome:
        accepted = [
            self._evidence.submit_bytes(
                principal,
                case_id,
                filename=item.filename,
                content_type=item.content_type,
                data=item.data,
                source=item.source,
            )
            for item in attachments
        ]
        ids = [a.evidence_id for a in accepted]
        read = self._wait(principal, ids, self._wait_seconds)
        if all(e.status in _READ for e in read):
            response = self._agent.turn(
                principal,
                case_id,
                QueryRequest(
                    session_id=session_id,
                    query=query,
                    consent_to_investigate=consent_to_investigate,
                ),
            )
            return TurnOutcome(
                result=AttachedTurnResult(response=response, attachments=read),
                job=None,
                attachments=read,
            )
        job = self._jobs.create_for_case(
            kind=TURN_JOB_KIND, case_id=case_id, stage="reading the attachments"
        )
        request = AttachedTurnRequest(
            user_id=principal.user_id,
            case_id=case_id,
            session_id=session_id,
            query=redact(query).text,
            evidence_ids=ids,
            consent_to_investigate=consent_to_investigate,
        )
        self._jobs.attach(job.job_id, "request", request.model_dump_json())
        self._tasks.submit(TURN_TASK, {"job_id": job.job_id})
        return TurnOutcome(result=None, job=job, attachments=read)

    def run_job(self, job_id: str) -> None:
        """The background half: wait for the attachments (up to the background wait),
        answer, keep the answer with the job. A failure is the job's error, in words a
        user can act on; nothing raised here is retried into a second answer."""
        raw = self._jobs.attached(job_id, "request")
        job = self._jobs.peek(job_id)
        if raw is None or job is None or job.status is not JobStatus.QUEUED:
            return  # expired, or a repeated invocation of a job already taken
        request = AttachedTurnRequest.model_validate_json(raw)
        self._jobs.progress(job_id, stage="reading the attachments", progress=10)
        principal = self._principal_of(request.user_id, acting_as=job_id)
        if principal is None:
            self._jobs.finish(job_id, error="The account that asked is no longer active")
            return
        try:
            self._wait(principal, request.evidence_ids, self._background_wait)
            self._jobs.progress(job_id, stage="answering", progress=60)
            response = self._agent.turn(
                principal,
                request.case_id,
                QueryRequest(
                    session_id=request.session_id,
                    query=request.query,
                    consent_to_investigate=request.consent_to_investigate,
                ),
            )
            result = AttachedTurnResult(
                response=response, attachments=self._wait(principal, request.evidence_ids, 0)
            )
        except AppError as exc:
            self._jobs.finish(job_id, error=exc.message)
            return
        except Exception as exc:
            logger.error(
                "background turn failed", extra={"job_id": job_id, "error": type(exc).__name__}
            )
            self._jobs.finish(job_id, error="The turn failed; please ask again")
            return
        self._jobs.attach(job_id, "result", result.model_dump_json())
        # On the native jobs API the result is where the answer is stored: the messages.
        self._jobs.finish(job_id, result_path=f"/api/v1/cases/{request.case_id}/messages")

    def job(self, principal: Principal, job_id: str) -> tuple[Job, AttachedTurnResult | None]:
        """A turn's job as its case's readers may see it, with the answer once done."""
        job = self._jobs.get(principal, job_id)
        if job.kind != TURN_JOB_KIND:
            raise NotFoundError("Job not found", error_code="JOB_NOT_FOUND")
        raw = self._jobs.attached(job_id, "result")
        result = AttachedTurnResult.model_validate_json(raw) if raw is not None else None
        return job, result

    def _wait(
        self, principal: Principal, evidence_ids: Sequence[str], seconds: float
    ) -> list[EvidenceOut]:
        """The attachments as they are once every one is read or `seconds` have passed."""
        until = self._clock() + seconds
        while True:
            read = [self._evidence.status_of(principal, e) for e in evidence_ids]
            if all(e.status in _READ for e in read) or self._clock() >= until:
                return read
            self._sleep(POLL_SECONDS)
