"""`/compat/faultmaven/api/v1/cases`: case lists by limit and offset, cases in the clients'
`state` vocabulary, a generated title when none is given, rename by PUT, and messages
with their role and turn. Served by the function that owns cases. HTTP shape only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.cases.models import CaseCreate, CasePriority, CaseUpdate
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep
from faultmaven.compat.cases import (
    STATUSES_OF,
    CaseList,
    CaseState,
    CompatCase,
    MessageList,
    compat_case,
    compat_messages,
)
from faultmaven.compat.once import once
from faultmaven.core.clock import utcnow
from faultmaven.core.idempotency import StoredReply
from faultmaven.core.models import Line, Metadata, RequestModel, Text
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import MAX_PAGE_SIZE, PageRequest

router = APIRouter(prefix=PREFIX + "/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class CompatCaseCreate(RequestModel):
    title: Line | None = None
    description: Text = ""
    priority: CasePriority = CasePriority.MEDIUM
    # The extension says where the case came from (`created_via`); informational only.
    metadata: Metadata | None = None


class CompatCaseUpdate(RequestModel):
    title: Line | None = None
    description: Text | None = None
    priority: CasePriority | None = None


@router.get("", response_model=CaseList)
def list_cases(
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
    state: CaseState | None = None,
) -> CaseList:
    page = container.cases.list(
        principal,
        PageRequest.window(offset, limit),
        status=STATUSES_OF[state.value] if state else None,
    )
    return CaseList(
        cases=[compat_case(c) for c in page.items],
        total_count=page.total,
        limit=limit,
        offset=offset,
        has_more=offset + len(page.items) < page.total,
    )


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
        body.model_dump_json(),
        produce,
    )


@router.get("/{case_id}", response_model=CompatCase)
def get_case(
    case_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> CompatCase:
    return compat_case(container.cases.get(principal, case_id))


@router.put("/{case_id}", response_model=CompatCase)
def put_case(
    case_id: str,
    body: CompatCaseUpdate,
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
) -> CompatCase:
    fields = body.model_dump(exclude_none=True)
    if not fields:
        return compat_case(container.cases.get(principal, case_id))
    return compat_case(container.cases.update(principal, case_id, CaseUpdate(**fields)))


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
