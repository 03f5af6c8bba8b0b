"""`/compat/faultmaven/api/v1/cases/{id}/turns`: the copilot's chat call, a multipart
form with the question, pasted output and files, over our attached-turn service; and the
job it polls when a turn outlives the request. Served by the agent's function (it calls
the model). HTTP shape only: everything is checked before anything is stored, so a
refused turn leaves no evidence behind."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, Response, UploadFile, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from faultmaven.agent.attachments import Attachment, TurnOutcome
from faultmaven.agent.models import QueryRequest
from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.auth.principal import Principal
from faultmaven.cases.lifecycle import allowed_targets, can_transition
from faultmaven.cases.models import CaseOut, CaseStatus, StatusChange
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep, session_expired
from faultmaven.compat.cases import STATE_OF
from faultmaven.compat.errors import problem, problems
from faultmaven.compat.once import once
from faultmaven.compat.sessions_api import TURN_MAX_FILE_BYTES
from faultmaven.compat.turns import TurnJob, TurnResponse, moved_response, turn_response
from faultmaven.container import Container
from faultmaven.core.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationFailedError,
)
from faultmaven.core.idempotency import StoredReply, fingerprint
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.evidence.models import safe_filename
from faultmaven.investigation.models import ConsentRequest
from faultmaven.jobs.models import JobStatus

router = APIRouter(prefix=PREFIX + "/api/v1", tags=["agent"], responses=ERROR_RESPONSES)
POLL_AFTER_SECONDS = 2
MAX_FILES = 5
# The clients' `to_state`, as our lifecycle's status (investigating is the consent to
# lead an investigation, which moves the case itself).
STATUS_OF_STATE = {"resolved": CaseStatus.RESOLVED, "closed": CaseStatus.ARCHIVED}
HYPOTHESIS_ACTIONS = ("validate", "refute", "retire")
INTENTS = ("conversation", "status_transition", "confirmation", "hypothesis_action")
# Characters, not bytes: a form's text field is at most 1 MiB to Starlette, and the query's
# own limit (100 KiB of UTF-8) is QueryRequest's.
_FormText = Annotated[str, Form(max_length=1_000_000)]
_FormLine = Annotated[str, Form(max_length=2_048)]
_Intent = Annotated[str, Form(max_length=4_096)]

_TURN_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "The turn outlived the request: poll `Location` (a full URL)"},
    409: {"description": "The case is closed (`CASE_TERMINAL`), or the same key is running"},
    413: {"description": f"Attachments beyond {TURN_MAX_FILE_BYTES} bytes in all"},
    503: {"description": "The model is unavailable; retry after Retry-After seconds"},
}


def _intent(intent_type: str, intent_data: str) -> dict[str, Any]:
    """`intent_data` as the object it must be; any other JSON is a 422."""
    if intent_type and intent_type not in INTENTS:
        raise ValidationFailedError(
            f"intent_type must be one of {', '.join(INTENTS)}",
            details=[problem("intent_type", "unknown intent", "enum")],
        )
    if not intent_data:
        return {}
    try:
        data = json.loads(intent_data)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ValidationFailedError(
            "intent_data must be a JSON object",
            details=[problem("intent_data", "not a JSON object", "json_invalid")],
        )
    return data


async def _attachments(pasted_content: str, files: list[UploadFile]) -> list[Attachment]:
    """Pasted output and files, read up to the turn's limit and no further."""
    if len(files) > MAX_FILES:
        raise ValidationFailedError(
            f"At most {MAX_FILES} files per turn",
            details=[problem("files", f"at most {MAX_FILES}", "too_long")],
        )
    items: list[Attachment] = []
    pasted = pasted_content.encode("utf-8")
    total = len(pasted)
    if pasted_content.strip():
        items.append(Attachment("pasted.txt", "text/plain; charset=utf-8", pasted, "text"))
    for upload in files:
        data = await upload.read(TURN_MAX_FILE_BYTES + 1)
        total += len(data)
        if total > TURN_MAX_FILE_BYTES:
            raise PayloadTooLargeError(
                f"A turn's attachments are limited to {TURN_MAX_FILE_BYTES} bytes in all;"
                " upload larger files from the dashboard",
                details={"max_bytes": TURN_MAX_FILE_BYTES},
            )
        if not data:
            raise ValidationFailedError(
                "A file is empty", details=[problem("files", "empty file", "too_short")]
            )
        items.append(
            Attachment(
                safe_filename(upload.filename or "attachment"),
                upload.content_type or "application/octet-stream",
                data,
            )
        )
    return items


def _question(query: str, items: list[Attachment], intent: dict[str, Any]) -> str:
    """The words the agent answers: the user's; with files and no words, a request to
    read them; a confirmation's or a hypothesis action's meaning in words."""
    if query.strip():
        return query
    if "confirmation_value" in intent:
        return "Yes, confirmed." if intent["confirmation_value"] is True else "No."
    action, hypothesis = intent.get("action"), intent.get("hypothesis_id")
    if action in HYPOTHESIS_ACTIONS and isinstance(hypothesis, str) and hypothesis:
        # The agent weighs it: a hypothesis' status follows its evidence, not a click.
        name = safe_filename(hypothesis)[:64]
        return f"I want to {action} the hypothesis {name}. What does the evidence say?"
    if items:
        return "I attached " + ", ".join(i.filename for i in items) + ". What does it show?"
    return ""


def _target(case: CaseOut, to_state: str) -> CaseStatus | None:
    """The status a transition intent asks for, None when the case is already there;
    refused before anything is stored when our lifecycle does not allow it."""
    target = STATUS_OF_STATE.get(to_state)
    if target is None or STATE_OF[case.status] == to_state:
        return None
    if not can_transition(case.status, target):
        raise ConflictError(
            f"A {STATE_OF[case.status]} case cannot become {to_state}",
            error_code="ILLEGAL_STATUS_TRANSITION",
            details={
                "from": STATE_OF[case.status],
                "to": to_state,
                "allowed": sorted({STATE_OF[s] for s in allowed_targets(case.status)}),
            },
        )
    return target


def _query(question: str, session_id: str) -> QueryRequest:
    try:
        return QueryRequest(session_id=session_id, query=question)
    except ValidationError as exc:
        raise ValidationFailedError("The query is not valid", details=problems(exc)) from None


@router.post(
    "/cases/{case_id}/turns",
    response_model=TurnResponse,
    responses=_TURN_RESPONSES,
    summary="One chat turn with pasted output and files (FaultMaven's copilot)",
)
async def submit_turn(
    case_id: str,
    request: Request,
    principal: PrincipalDep,
    container: ContainerDep,
    session: SessionDep,
    query: _FormText = "",
    pasted_content: _FormText = "",
    intent_type: _FormLine = "",
    intent_data: _Intent = "",
    input_type: _FormLine = "",
    source_url: _FormLine = "",
    files: Annotated[list[UploadFile], File()] = [],  # noqa: B006 - FastAPI copies defaults
    idempotency_key: Annotated[str, Header(max_length=255)] = "",
) -> Response:
    """The question is stored and answered like `POST /api/v1/cases/{id}/query`; pasted
    output and files are written to S3 and go through the evidence pipeline first. A
    `status_transition` intent with `to_state` resolved or closed moves the case after
    answering any question sent with it; investigating asks the agent to lead. `input_type`
    and `source_url` are accepted and not kept (a page's URL may carry a token)."""
    received = time.monotonic()
    if session is None:
        raise session_expired()
    intent = _intent(intent_type, intent_data)
    to_state = str(intent.get("to_state") or "") if intent_type == "status_transition" else ""
    if intent_type == "status_transition" and to_state not in (*STATUS_OF_STATE, "investigating"):
        raise ValidationFailedError(
            "A status_transition needs to_state: investigating, resolved or closed",
            details=[problem("intent_data.to_state", "missing or unknown", "enum")],
        )
    items = await _attachments(pasted_content, files)
    del input_type, source_url
    turn = _Turn(
        container=container,
        principal=principal,
        case_id=case_id,
        session_id=session.session_id,
        question=_question(query, items, intent),
        items=items,
        to_state=to_state,
        job_url=str(request.url_for("get_turn_job", job_id="JOB")),
        received=received,
    )
    asked = fingerprint(
        turn.question, intent_type, intent_data, *(p for i in items for p in (i.filename, i.data))
    )
    return await run_in_threadpool(turn.submit, idempotency_key, asked)


class _Turn:
    """One turn's request, checked and then run (in the threadpool: it blocks on the
    stores, S3 and the model)."""

    def __init__(
        self,
        *,
        container: Container,
        principal: Principal,
        case_id: str,
        session_id: str,
        question: str,
        items: list[Attachment],
        to_state: str,
        job_url: str,
        received: float,
    ) -> None:
        self.container = container
        self.principal = principal
        self.case_id = case_id
        self.session_id = session_id
        self.question = question
        self.items = items
        self.to_state = to_state
        self.job_url = job_url
        self.received = received

    def submit(self, key: str, asked: str) -> Response:
        # Readable first: a stranger's or a deleted case is a 404, replay or not.
        self.container.cases.get(self.principal, self.case_id)
        return once(
            self.container.idempotency,
            f"{self.principal.user_id}:turn:{self.case_id}",
            key,
            asked,
            self.run,
            stale=self.failed_job,
        )

    def failed_job(self, reply: StoredReply) -> bool:
        """A replayed 202 whose job failed is run again rather than replayed for a day."""
        if reply.status_code != status.HTTP_202_ACCEPTED:
            return False
        job_id = json.loads(reply.body).get("job_id", "")
        try:
            job, _ = self.container.attached_turns.job(self.principal, job_id)
        except NotFoundError:
            return True  # expired with its answer: nothing left to replay
        return job.status is JobStatus.FAILED

    def run(self) -> StoredReply:
        case = self.container.cases.get(self.principal, self.case_id)
        if case.status is CaseStatus.ARCHIVED:
            raise ConflictError(
                "The case is closed; open a new case to continue", error_code="CASE_TERMINAL"
            )
        move_to = _target(case, self.to_state)
        question = self.question
        if self.to_state == "investigating":
            # The agent leads from now on; the problem is the case's own words.
            self.container.investigation.consent(self.principal, self.case_id, ConsentRequest())
            question = question or "Please lead the investigation."
        if not question:
            if not self.to_state:
                raise ValidationFailedError(
                    "Send a query, pasted_content or a file",
                    details=[problem("query", "field required", "missing")],
                )
            return self._moved(case, move_to)
        outcome = self.container.attached_turns.start(
            self.principal,
            self.case_id,
            _query(question, self.session_id),
            attachments=self.items,
            move_to=move_to,
            received_at=self.received,
        )
        return self._reply(outcome)

    def _reply(self, outcome: TurnOutcome) -> StoredReply:
        if outcome.result is not None:
            body = turn_response(outcome.result).model_dump_json()
            return StoredReply(status_code=status.HTTP_200_OK, body=body, headers={})
        job = outcome.job
        if job is None:
            raise RuntimeError("a turn without an answer has a job")
        pending = TurnJob(
            job_id=job.job_id, status="pending", progress=job.progress, stage=job.stage
        )
        return StoredReply(
            status_code=status.HTTP_202_ACCEPTED,
            body=pending.model_dump_json(),
            headers={
                "Location": self.job_url.replace("JOB", job.job_id),
                "Retry-After": str(POLL_AFTER_SECONDS),
            },
        )

    def _moved(self, case: CaseOut, move_to: CaseStatus | None) -> StoredReply:
        """A bare status change: no question, so no agent turn."""
        if move_to is not None:
            case = self.container.cases.change_status(
                self.principal,
                self.case_id,
                StatusChange(status=move_to, reason=f"marked {self.to_state} from the copilot"),
            )
        turns = self.container.agent.turns_taken([case])[self.case_id]
        body = moved_response(case.status, turns=turns, session_id=self.session_id)
        return StoredReply(status_code=status.HTTP_200_OK, body=body.model_dump_json(), headers={})


@router.get(
    "/jobs/{job_id}",
    name="get_turn_job",
    response_model=TurnJob,
    summary="A chat turn that outlived its request",
)
def get_turn_job(
    job_id: str, principal: PrincipalDep, container: ContainerDep, response: Response
) -> TurnJob:
    """`status` pending or running (with `Retry-After`) until the answer is `result`, or
    the reason is `error.message`."""
    job, result = container.attached_turns.job(principal, job_id)
    if job.status is JobStatus.FAILED:
        return TurnJob(
            job_id=job.job_id,
            status="failed",
            progress=job.progress,
            stage=job.stage,
            error={"message": job.error or "The turn failed"},
        )
    if job.status is JobStatus.COMPLETED and result is not None:
        return TurnJob(
            job_id=job.job_id,
            status="completed",
            progress=100,
            stage=job.stage,
            result=turn_response(result),
        )
    response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return TurnJob(
        job_id=job.job_id,
        status="running" if job.status is JobStatus.RUNNING else "pending",
        progress=job.progress,
        stage=job.stage,
    )
