"""`/compat/faultmaven/api/v1/{knowledge/,}documents`: the dashboard's runbook uploads and
lists and the copilot's document view, over our knowledge service. Their
`document_type` is kept as a `type:` tag (our documents have tags, not types); their
`description`, `source_url` and `category` are answered back when sent and not stored.
Served by the function that owns knowledge. HTTP shape only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from pydantic import BaseModel, ValidationError

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep
from faultmaven.compat.errors import problem, problems
from faultmaven.core.errors import PayloadTooLargeError, ValidationFailedError
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import MAX_PAGE_SIZE, PageRequest
from faultmaven.knowledge.models import ContentType, DocumentCreate, DocumentOut

router = APIRouter(prefix=PREFIX + "/api/v1", tags=["knowledge"], responses=ERROR_RESPONSES)
DocumentType = Literal["playbook", "troubleshooting_guide", "reference", "how_to"]


class DocumentTypeFilter(StrEnum):
    PLAYBOOK = "playbook"
    TROUBLESHOOTING_GUIDE = "troubleshooting_guide"
    REFERENCE = "reference"
    HOW_TO = "how_to"


TYPE_TAG = "type:"
_Field = Annotated[str, Form(max_length=2_000)]


class KBDocument(BaseModel):
    document_id: str
    user_id: str | None
    owner_id: str | None
    title: str
    content: str | None = None
    document_type: str
    category: str | None = None
    tags: list[str]
    source_url: str | None = None
    description: str | None = None
    status: str
    scope: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, object]


class KBDocumentList(BaseModel):
    documents: list[KBDocument]
    total_count: int
    limit: int
    offset: int


def _kb(document: DocumentOut, content: str | None = None, **sent: str | None) -> KBDocument:
    types = [t.removeprefix(TYPE_TAG) for t in document.tags if t.startswith(TYPE_TAG)]
    return KBDocument(
        document_id=document.document_id,
        user_id=document.owner_id,
        owner_id=document.owner_id,
        title=document.title,
        content=content,
        document_type=types[0] if types else "reference",
        tags=[t for t in document.tags if not t.startswith(TYPE_TAG)],
        status=document.status.value,
        scope=document.scope.value,
        created_at=document.created_at,
        updated_at=document.updated_at,
        metadata={
            "chunk_count": document.chunk_count,
            "size_bytes": document.size_bytes,
            "visibility": document.visibility.value,
        },
        **sent,
    )


@router.post(
    "/documents/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=KBDocument,
    summary="Upload a runbook (the dashboard)",
)
@router.post("/knowledge/documents", status_code=status.HTTP_201_CREATED, response_model=KBDocument)
async def upload_document(
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    document_type: Annotated[DocumentType, Form()] = "reference",
    tags: _Field = "",
    source_url: _Field = "",
    description: _Field = "",
    category: _Field = "",
) -> KBDocument:
    """A markdown or text file, chunked and indexed before the answer, in the caller's
    own knowledge base."""
    limit = container.settings.knowledge_max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"Documents are limited to {limit} bytes", details={"max_bytes": limit}
        )
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailedError(
            "The file must be UTF-8 text (markdown or plain text)",
            details=[problem("file", "not UTF-8 text", "value_error")],
        ) from None
    name = (file.filename or "").lower()
    markdown = name.endswith((".md", ".markdown")) or not name.endswith(".txt")
    try:
        body = DocumentCreate(
            title=title,
            content=content,
            content_type=ContentType.MARKDOWN if markdown else ContentType.PLAIN,
            tags=[*(t for t in tags.split(",") if t.strip()), TYPE_TAG + document_type],
        )
    except ValidationError as exc:
        raise ValidationFailedError("The document is not valid", details=problems(exc)) from None
    created = container.knowledge.create_document(principal, body)
    return _kb(
        created,
        created.content,
        source_url=source_url or None,
        description=description or None,
        category=category or None,
    )


@router.get("/documents", response_model=KBDocumentList)
@router.get("/knowledge/documents", response_model=KBDocumentList)
def list_documents(
    principal: PrincipalDep,
    container: ContainerDep,
    _: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    document_type: DocumentTypeFilter | None = None,
) -> KBDocumentList:
    found = container.knowledge.list_documents(
        principal,
        PageRequest.window(offset, limit),
        relation="all",
        text=None,
        tag=TYPE_TAG + document_type.value if document_type else None,
    )
    return KBDocumentList(
        documents=[_kb(d) for d in found.items],
        total_count=found.total,
        limit=limit,
        offset=offset,
    )


@router.get("/knowledge/documents/{document_id}", response_model=KBDocument)
@router.get("/documents/{document_id}", response_model=KBDocument)
def get_document(
    document_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> KBDocument:
    document = container.knowledge.get_document(principal, document_id)
    return _kb(document, document.content)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
@router.delete("/knowledge/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(
    document_id: str, principal: PrincipalDep, container: ContainerDep, _: SessionDep
) -> Response:
    container.knowledge.delete_document(principal, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
