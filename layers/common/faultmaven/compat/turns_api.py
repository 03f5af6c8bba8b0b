"""`/compat/faultmaven/api/v1/cases/{id}/turns`: the copilot's chat call, a multipart
form with the question, pasted output and files, over our attached-turn service; and the
job it polls when a turn outlives the request. Served by the agent's function (it calls
the model). HTTP shape only."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

from faultmaven.agent.attachments import Attachment
from faultmaven.agent.models import MAX_QUERY_BYTES
from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.auth.principal import Principal
from faultmaven.cases.models import CaseStatus, StatusChange
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep, session_expired
from faultmaven.compat.cases import STATE_OF
from faultmaven.compat.once import once
from faultmaven.compat.sessions_api import TURN_MAX_FILE_BYTES
from faultmaven.compat.turns import TurnJob, TurnResponse, turn_response
from faultmaven.container import Container
from faultmaven.core.errors import ConflictError, PayloadTooLargeError, ValidationFailedError
from faultmaven.core.idempotency import StoredReply, fingerprint
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.jobs.models import JobStatus

router = APIRouter(prefix=PREFIX + "/api/v1", tags=["agent"], responses=ERROR_RESPONSES)
POLL_AFTER_SECONDS = 2
MAX_FILES = 5
# The clients' `to_state`, as our lifecycle's status (investigating is the consent to
# lead an investigation, which moves the case itself).
STATUS_OF_STATE = {"resolved": CaseStatus.RESOLVED, "closed": CaseStatus.ARCHIVED}
INTENTS = ("conversation", "status_transition", "confirmation", "hypothesis_action")
# Starlette reads at most 1 MiB of a form's text field; larger output goes as a file.
_FormText = Annotated[str, Form(max_length=1_000_000)]
_FormLine = Annotated[str, Form(max_length=2_048)]

_TURN_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "The turn outlived the request: poll `Location` (a full URL)"},
    409: {"description": "The case is closed (`CASE_TERMINAL`), or the same key is running"},
    413: {"description": f"Attachments beyond {TURN_MAX_FILE_BYTES} bytes in all"},
    503: {"description": "The model is unavailable; retry after Retry-After seconds"},
}


def _intent(intent_type: str, intent_data: str) -> dict[str, Any]:
    if intent_type and intent_type not in INTENTS:
        raise ValidationFailedError(
            f"intent_type must be one of {', '.join(INTENTS)}",
            details=[{"loc": ["body", "intent_type"], "msg": "unknown intent", "type": "enum"}],
        )
    if not intent_data:
        return {}
    try:
        data = json.loads(intent_data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValidationFailedError(
            "intent_data must be a JSON object",
            details=[{"loc": ["body", "intent_data"], "msg": "not a JSON object", "type": "json"}],
        )
    return data


async def _attachments(pasted_content: str, files: list[UploadFile]) -> list[Attachment]:
    if len(files) > MAX_FILES:
        raise ValidationFailedError(f"At most {MAX_FILES} files per turn")
    items: list[Attachment] = []
    total = len(pasted_content.encode("utf-8"))
    if pasted_content.strip():
        items.append(
            Attachment("pasted.txt", "text/plain; charset=utf-8", pasted_content.encode(), "text")
        )
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
            raise ValidationFailedError(f"The file {upload.filename or 'file'!r} is empty")
        items.append(
            Attachment(
                upload.filename or "attachment",
                upload.content_type or "application/octet-stream",
                data,
            )
        )
    return items


def _question(query: str, items: list[Attachment], to_state: str, intent: dict[str, Any]) -> str:
    """The words the agent answers: the user's, or (files without words) a request to
    read what was attached, or a confirmation's answer."""
    if len(query.encode("utf-8")) > MAX_QUERY_BYTES:
        raise ValidationFailedError(
            f"query must be at most {MAX_QUERY_BYTES} bytes; attach longer output as a file",
            details=[{"loc": ["body", "query"], "msg": "too long", "type": "string_too_long"}],
        )
    if query.strip():
        return query
    if "confirmation_value" in intent:
        return "Yes, confirmed." if intent["confirmation_value"] is True else "No."
    if items:
        return "I attached " + ", ".join(i.filename for i in items) + ". What does it show?"
    if to_state == "investigating":
        return "Please lead an investigation of this problem."
    return ""


def _transition(
    container: Container, principal: Principal, case_id: str, to_state: str
) -> CaseStatus:
    case = container.cases.get(principal, case_id)
    target = STATUS_OF_STATE[to_state]
    if case.status is not target:
        case = container.cases.change_status(
            principal,
            case_id,
            StatusChange(status=target, reason=f"marked {to_state} from FaultMaven's copilot"),
        )
    return case.status


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
    intent_data: _FormText = "",
    input_type: _FormLine = "",
    source_url: _FormLine = "",
    files: Annotated[list[UploadFile], File()] = [],  # noqa: B006 - FastAPI copies defaults
    idempotency_key: Annotated[str, Header(max_length=255)] = "",
) -> Response:
    """The question is stored and answered like `POST /api/v1/cases/{id}/query`; pasted
    output and files are written to S3 and go through the evidence pipeline first. A
    `status_transition` intent with `to_state` resolved or closed moves the case (after
    answering any question sent with it); investigating asks the agent to lead. `input_type`
    and `source_url` are accepted and not kept (a page's URL may carry a token)."""
    from starlette.concurrency import run_in_threadpool

    if session is None:
        raise session_expired()
    intent = _intent(intent_type, intent_data)
    to_state = str(intent.get("to_state") or "") if intent_type == "status_transition" else ""
    if intent_type == "status_transition" and to_state not in (*STATUS_OF_STATE, "investigating"):
        raise ValidationFailedError(
            "A status_transition needs to_state: investigating, resolved or closed",
            details=[
                {"loc": ["body", "intent_data", "to_state"], "msg": "missing", "type": "enum"}
            ],
        )
    items = await _attachments(pasted_content, files)
    question = _question(query, items, to_state, intent)
    if not question and not to_state:
        raise ValidationFailedError(
            "Send a query, pasted_content or a file",
            details=[{"loc": ["body", "query"], "msg": "field required", "type": "missing"}],
        )
    del input_type, source_url
    asked = fingerprint(
        question, intent_type, intent_data, *(part for i in items for part in (i.filename, i.data))
    )
    job_url = str(request.url_for("get_turn_job", job_id="JOB"))

    def produce() -> StoredReply:
        return _run_turn(
            container, principal, case_id, session.session_id, question, items, to_state, job_url
        )

    return await run_in_threadpool(
        once,
        container.idempotency,
        f"{principal.user_id}:turn:{case_id}",
        idempotency_key,
        asked,
        produce,
    )


def _run_turn(
    container: Container,
    principal: Principal,
    case_id: str,
    session_id: str,
    question: str,
    items: list[Attachment],
    to_state: str,
    job_url: str,
) -> StoredReply:
    case = container.cases.get(principal, case_id)
    if case.status is CaseStatus.ARCHIVED:
        raise ConflictError(
            "The case is closed; open a new case to continue", error_code="CASE_TERMINAL"
        )
    response: TurnResponse | None = None
    if question:
        outcome = container.attached_turns.start(
            principal,
            case_id,
            session_id=session_id,
            query=question,
            attachments=items,
            consent_to_investigate=to_state == "investigating",
        )
        if outcome.result is None:
            assert outcome.job is not None
            job = TurnJob(
                job_id=outcome.job.job_id,
                status="pending",
                progress=outcome.job.progress,
                stage=outcome.job.stage,
            )
            return StoredReply(
                status_code=status.HTTP_202_ACCEPTED,
                body=job.model_dump_json(),
                headers={
                    "Location": job_url.replace("JOB", outcome.job.job_id),
                    "Retry-After": str(POLL_AFTER_SECONDS),
                },
            )
        response = turn_response(outcome.result)
    if to_state in STATUS_OF_STATE:
        moved = _transition(container, principal, case_id, to_state)
        if response is None:
            response = _moved(container, principal, case_id, session_id, moved)
        else:
            response = response.model_copy(update={"case_state": STATE_OF[moved]})
    assert response is not None
    return StoredReply(status_code=200, body=response.model_dump_json(), headers={})


def _moved(
    container: Container, principal: Principal, case_id: str, session_id: str, moved: CaseStatus
) -> TurnResponse:
    """The reply to a bare status change: no question, so no agent turn."""
    case = container.cases.get(principal, case_id)
    turns = container.agent.turns_taken([case])[case_id]
    return TurnResponse(
        agent_response=f"The case is now {STATE_OF[moved]}.",
        turn_number=turns,
        investigation_turn=None,
        case_state=STATE_OF[moved],
        milestones_completed=[],
        progress_made=True,
        attachments_processed=[],
        suggested_actions=[],
        sources=[],
        progress_transparency=None,
        response_type="STATUS_UPDATE",
        confidence_score=None,
        message_id="",
        session_id=session_id,
    )


@router.get(
    "/jobs/{job_id}",
    name="get_turn_job",
    response_model=TurnJob,
    summary="A chat turn that outlived its request",
)
def get_turn_job(
    job_id: str, principal: PrincipalDep, container: ContainerDep, response: Response
) -> TurnJob | JSONResponse:
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
