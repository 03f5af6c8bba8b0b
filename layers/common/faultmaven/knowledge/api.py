"""/api/v1/knowledge: documents, shares, the global KB and search. HTTP shape only;
every decision is in `service.py`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params
from faultmaven.knowledge.models import (
    DocumentCreate,
    DocumentDetail,
    DocumentOut,
    DocumentUpdate,
    DocumentUploadAccepted,
    DocumentUploadRequest,
    GlobalDocumentCreate,
    SearchRequest,
    SearchResponse,
    ShareCreate,
    ShareOut,
)

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]
TextQuery = Annotated[
    str | None, Query(min_length=1, max_length=200, description="text in the title or content")
]
TagQuery = Annotated[str | None, Query(min_length=1, max_length=64, description="one tag")]


@router.post("/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentDetail)
def create_document(
    body: DocumentCreate, principal: PrincipalDep, container: ContainerDep
) -> DocumentDetail:
    """A markdown or plain-text document in the body, chunked along its headings and
    indexed before the answer."""
    return container.knowledge.create_document(principal, body)


@router.post(
    "/documents/uploads",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentUploadAccepted,
)
def request_upload(
    body: DocumentUploadRequest,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
) -> DocumentUploadAccepted:
    """A document too large to post inline: send its file with the returned form
    (multipart POST to S3). The document is `pending` until the file arrives, then
    `ready` (indexed) or `failed` (with a reason); poll the `Location`."""
    accepted = container.knowledge.request_upload(principal, body)
    response.headers["Location"] = f"/api/v1/knowledge/documents/{accepted.document.document_id}"
    response.headers["Retry-After"] = "2"
    return accepted


@router.get("/documents", response_model=Page[DocumentOut])
def list_documents(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Paging,
    relation: Annotated[
        Literal["all", "owned", "shared"],
        Query(description="owned by me, shared with me, or both"),
    ] = "all",
    q: TextQuery = None,
    tag: TagQuery = None,
) -> Page[DocumentOut]:
    return container.knowledge.list_documents(principal, page, relation=relation, text=q, tag=tag)


@router.get("/documents/{document_id}", response_model=DocumentDetail)
def get_document(
    document_id: str, principal: PrincipalDep, container: ContainerDep
) -> DocumentDetail:
    return container.knowledge.get_document(principal, document_id)


@router.patch("/documents/{document_id}", response_model=DocumentDetail)
def update_document(
    document_id: str, body: DocumentUpdate, principal: PrincipalDep, container: ContainerDep
) -> DocumentDetail:
    """Content, title or tags need write permission and re-index the document;
    visibility and placement need the owner (or an admin)."""
    return container.knowledge.update_document(principal, document_id, body)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(document_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.knowledge.delete_document(principal, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{document_id}/shares", response_model=list[ShareOut])
def list_shares(
    document_id: str, principal: PrincipalDep, container: ContainerDep
) -> list[ShareOut]:
    return container.knowledge.list_shares(principal, document_id)


@router.post(
    "/documents/{document_id}/shares", status_code=status.HTTP_201_CREATED, response_model=ShareOut
)
def add_share(
    document_id: str, body: ShareCreate, principal: PrincipalDep, container: ContainerDep
) -> ShareOut:
    """Share with a user, a team or an organization (read or write). A private document
    becomes `shared`. Recorded in the audit trail."""
    return container.knowledge.add_share(principal, document_id, body)


@router.delete("/documents/{document_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_share(
    document_id: str, share_id: str, principal: PrincipalDep, container: ContainerDep
) -> Response:
    container.knowledge.remove_share(principal, document_id, share_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, principal: PrincipalDep, container: ContainerDep) -> SearchResponse:
    """Ranked chunks from the requested scopes that the caller may read: `case` (needs
    `case_id` and read access to that case), `user` (own and shared documents) and
    `global`. Vector and full-text results are fused by reciprocal rank."""
    return container.knowledge.search(principal, body)


@router.get("/global/documents", response_model=Page[DocumentOut])
def list_global_documents(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Paging,
    q: TextQuery = None,
    tag: TagQuery = None,
) -> Page[DocumentOut]:
    return container.knowledge.list_global(principal, page, text=q, tag=tag)


@router.post(
    "/global/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentDetail
)
def create_global_document(
    body: GlobalDocumentCreate, principal: PrincipalDep, container: ContainerDep
) -> DocumentDetail:
    """Admins only: an article every user can read."""
    return container.knowledge.create_global_document(principal, body)
