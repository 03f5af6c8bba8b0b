"""`/compat/faultmaven/api/v1/cases`: case lists by limit and offset, cases in the clients'
`state` vocabulary, a generated title when none is given, rename by PUT, and messages
with their role and turn. Served by the function that owns cases. HTTP shape only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.auth.principal import Principal
from faultmaven.cases.models import (
    CaseCreate,
    CaseOut,
    CasePriority,
    CaseStatus,
    CaseUpdate,
    MessageOut,
    StatusChange,
)
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep
from faultmaven.compat.case_ui import (
    CaseUI,
    UploadedFileDetail,
    UploadedFiles,
    case_ui,
    file_detail,
    questions_of,
    uploaded_file,
)
from faultmaven.compat.cases import (
    OPEN_STATUSES,
    STATUSES_OF,
    CaseList,
    CaseState,
    CompatCase,
    MessageList,
    compat_case,
    compat_messages,
)
from faultmaven.compat.once import once
from faultmaven.container import Container
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError
from faultmaven.core.idempotency import StoredReply, fingerprint
from faultmaven.core.models import Line, Metadata, RequestModel, StrictInt, Text
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import MAX_PAGE_SIZE, PageRequest

router = APIRouter(prefix=PREFIX + "/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class CompatCaseCreate(RequestModel):
    """The limits are CaseCreate's, so a long field is this request's 422."""

    title: Line | None = Field(default=None, max_length=200)
    description: Text = Field(default="", max_length=10_000)
    priority: CasePriority = CasePriority.MEDIUM
    # The extension says where the case came from (`created_via`); informational only.
    metadata: Metadata | None = None
    # What the user typed before the case existed: accepted and not kept here, since the
    # copilot asks it as the first turn (where it is redacted and answered).
    initial_message: Text | None = Field(default=None, max_length=10_000)


class CompatCaseUpdate(RequestModel):
    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    priority: CasePriority | None = None
    # The dashboard's annotation (`status`, `notes`) is accepted and not kept: status
    # moves go through the lifecycle (archive, or a turn's status_transition).
    status: Line | None = Field(default=None, max_length=64)
    notes: Text | None = Field(default=None, max_length=10_000)


def _window(
    limit: int | None, offset: int | None, page: int | None, page_size: int | None
) -> tuple[int, int]:
    """The extension and the dashboard's current builds page by limit/offset; earlier
    dashboard builds by `page` (from 0) and `page_size`."""
    size = limit or page_size or 20
    if offset is None and page is not None:
        offset = page * size
    return size, offset or 0


def _case_rows(container: Container, cases: list[CaseOut]) -> list[CompatCase]:
    turns = container.agent.turns_taken(cases)
    return [compat_case(c, current_turn=turns[c.case_id]) for c in cases]


@router.get("", response_model=CaseList)
def list_cases(
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = None,
    offset: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    page: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    page_size: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = None,
    state: CaseState | None = None,
    include_archived: bool = True,
) -> CaseList:
    """`include_archived=false` leaves closed cases out (unless `state=closed` asks
    for them)."""
    size, start = _window(limit, offset, page, page_size)
    statuses = STATUSES_OF[state.value] if state else None
    if statuses is None and not include_archived:
        statuses = OPEN_STATUSES
    found = container.cases.list(principal, PageRequest.window(start, size), status=statuses)
    return CaseList(
        cases=_case_rows(container, list(found.items)),
        total_count=found.total,
        limit=size,
        offset=start,
        has_more=start + len(found.items) < found.total,
    )


class CaseSearch(RequestModel):
    query: Line = Field(default="", max_length=500)
    limit: StrictInt = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    page: StrictInt | None = Field(default=None, ge=0, le=10_000)
    page_size: StrictInt | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    state: CaseState | None = None
    team_id: Line | None = Field(default=None, max_length=64)


@router.api_route("/search", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def search_other_methods() -> None:
    """`/search` is a path of its own, not a case called "search": its other methods are
    a 405 rather than the case routes' answer."""
    raise StarletteHTTPException(status_code=405, headers={"Allow": "POST"})


@router.post("/search", response_model=list[CompatCase])
def search_cases(
    body: CaseSearch, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> list[CompatCase]:
    """Cases the caller may see whose title or description holds the words, as the bare
    list the dashboard reads; `team_id` keeps the team's cases of that page."""
    size = body.page_size or body.limit
    start = (body.page or 0) * size
    found = container.cases.list(
        principal,
        PageRequest.window(start, size),
        status=STATUSES_OF[body.state.value] if body.state else None,
        text=body.query or None,
    )
    rows = [c for c in found.items if body.team_id is None or c.team_id == body.team_id]
    return _case_rows(container, rows)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CompatCase)
def create_case(
    body: CompatCaseCreate,
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    idempotency_key: Annotated[str, Header(max_length=255)] = "",
) -> Response:
    """A null title becomes a dated one (`x-title-source: generated`); the agent's
    later turns do not rename it. A retry with the same `Idempotency-Key` gets the
    first case again."""

    def produce() -> StoredReply:
        title = body.title
        if not title:
            title = f"Case {utcnow():%Y-%m-%d %H:%M} UTC"
        case = container.cases.create(
            principal,
            CaseCreate(title=title, description=body.description, priority=body.priority),
        )
        return StoredReply(
            status_code=status.HTTP_201_CREATED,
            body=compat_case(case, current_turn=0).model_dump_json(),
            headers={"x-title-source": "user" if body.title else "generated"},
        )

    return once(
        container.idempotency,
        f"{principal.user_id}:create-case",
        idempotency_key,
        fingerprint(body.model_dump_json()),
        produce,
    )


@router.get("/{case_id}", response_model=CompatCase)
def get_case(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> CompatCase:
    return _case_rows(container, [container.cases.get(principal, case_id)])[0]


@router.put("/{case_id}", response_model=CompatCase)
def put_case(
    case_id: str,
    body: CompatCaseUpdate,
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
) -> CompatCase:
    fields = body.model_dump(exclude_none=True, exclude={"status", "notes"})
    if not fields:
        return _case_rows(container, [container.cases.get(principal, case_id)])[0]
    return _case_rows(
        container, [container.cases.update(principal, case_id, CaseUpdate(**fields))]
    )[0]


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_case(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> Response:
    container.cases.delete(principal, case_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{case_id}/messages", response_model=MessageList)
def list_messages(
    case_id: str,
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> MessageList:
    """Turn numbers count the questions before the window too, so the messages before
    it are read (a page of 100 at a time, as the extension drains them)."""
    read = []
    total = 0
    page_number = 1
    while True:
        page = container.cases.messages(
            principal, case_id, PageRequest(page=page_number, page_size=MAX_PAGE_SIZE)
        )
        read.extend(page.items)
        total = page.total
        if len(read) >= min(total, offset + limit) or not page.items:
            break
        page_number += 1
    window = compat_messages(read)[offset : offset + limit]
    return MessageList(
        messages=window,
        total_count=total,
        retrieved_count=len(window),
        has_more=offset + len(window) < total,
        next_offset=offset + len(window) if offset + len(window) < total else None,
    )


@router.post("/{case_id}/archive", response_model=CompatCase)
def archive_case(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> CompatCase:
    """Closes the case (our `archived`); an archived case stays as it is."""
    case = container.cases.get(principal, case_id)
    if case.status is not CaseStatus.ARCHIVED:
        case = container.cases.change_status(
            principal,
            case_id,
            StatusChange(status=CaseStatus.ARCHIVED, reason="archived from FaultMaven's clients"),
        )
    return _case_rows(container, [case])[0]


@router.post("/{case_id}/unarchive", response_model=CompatCase)
def unarchive_case(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> CompatCase:
    """Archived is terminal in our lifecycle (retention and the audit trail rely on a
    closed case staying closed): 409 `CASE_TERMINAL` for an archived case; an open one
    is answered as it is."""
    case = container.cases.get(principal, case_id)
    if case.status is CaseStatus.ARCHIVED:
        raise ConflictError(
            "An archived case is closed for good; open a new case and link this one",
            error_code="CASE_TERMINAL",
        )
    return _case_rows(container, [case])[0]


@router.get("/{case_id}/ui", response_model=CaseUI)
def case_header(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> CaseUI:
    case = container.cases.get(principal, case_id)
    everything = PageRequest(page=1, page_size=MAX_PAGE_SIZE)
    evidence = container.evidence.list_for_case(principal, case_id, everything)
    return case_ui(
        case,
        container.investigation.get(principal, case_id),
        container.cases.hypotheses(principal, case_id, everything).items,
        container.cases.solutions(principal, case_id, everything).items,
        evidence.items,
        turns=container.agent.turns_taken([case])[case_id],
        questions=_questions(container, principal, case_id),
        files=evidence.total,
    )


def _questions(container: Container, principal: Principal, case_id: str) -> list[MessageOut]:
    page = container.cases.messages(
        principal, case_id, PageRequest(page=1, page_size=MAX_PAGE_SIZE)
    )
    return questions_of(page.items)


class TitleRequest(RequestModel):
    max_words: StrictInt = Field(default=8, ge=1, le=20)
    hint: Line | None = Field(default=None, max_length=200)


class TitleReply(BaseModel):
    schema_version: str = "3.1.0"
    title: str


@router.post("/{case_id}/title", response_model=TitleReply)
def generate_title(
    case_id: str,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
    _: SessionDep,
    body: Annotated[TitleRequest | None, Body()] = None,
) -> TitleReply:
    """A title from the case's first question (already redacted when it was stored),
    at most `max_words` words, and the case is renamed to it. 422 while the case has no
    question yet. `x-title-source: generated`."""
    request = body or TitleRequest()
    case = container.cases.title_from_question(
        principal, case_id, max_words=request.max_words, hint=request.hint
    )
    response.headers["x-title-source"] = "generated"
    return TitleReply(title=case.title)


@router.get("/{case_id}/uploaded-files", response_model=UploadedFiles)
def uploaded_files(
    case_id: str,
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> UploadedFiles:
    found = container.evidence.list_for_case(principal, case_id, PageRequest.window(offset, limit))
    questions = _questions(container, principal, case_id)
    return UploadedFiles(
        files=[uploaded_file(e, questions) for e in found.items],
        total_count=found.total,
        limit=limit,
        offset=offset,
    )


@router.get("/{case_id}/uploaded-files/{file_id}", response_model=UploadedFileDetail)
def uploaded_file_detail(
    case_id: str, file_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> UploadedFileDetail:
    evidence = container.evidence.status_of(principal, file_id)
    if evidence.case_id != case_id:
        raise NotFoundError("Evidence not found", error_code="EVIDENCE_NOT_FOUND")
    everything = PageRequest(page=1, page_size=MAX_PAGE_SIZE)
    return file_detail(
        evidence,
        _questions(container, principal, case_id),
        container.cases.hypotheses(principal, case_id, everything).items,
    )
