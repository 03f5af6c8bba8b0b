"""Documents written inline: user runbooks and global articles, created, listed, read,
changed and deleted."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from faultmaven.auth.principal import Principal, require_admin
from faultmaven.core.errors import ConflictError
from faultmaven.core.ids import new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.vectors import Scope
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge import store as kb
from faultmaven.knowledge import views
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import audit_document, index_errors
from faultmaven.knowledge.models import (
    DocumentCreate,
    DocumentDetail,
    DocumentOut,
    DocumentUpdate,
    DocumentUploadRequest,
    GlobalDocumentCreate,
    Visibility,
)
from faultmaven.knowledge.placement import placement
from faultmaven.knowledge.writing import Writer
from faultmaven.organizations.queries import scopes_in

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Documents(Writer):
    def create_document(self, principal: Principal, body: DocumentCreate) -> DocumentDetail:
        self._check_size(body.content)
        with self._db.session() as session:
            document = new_user_document(session, principal, body, content=body.content)
        return self._store_new(principal, document, DocumentAccess.MANAGE)

    def create_global_document(
        self, principal: Principal, body: GlobalDocumentCreate
    ) -> DocumentDetail:
        require_admin(principal)
        self._check_size(body.content)
        if body.slug is not None:
            with self._db.session() as session:
                existing = kb.global_by_slug(session, body.slug)
            if existing is not None:
                raise ConflictError(
                    "A global document with this slug exists",
                    error_code="DOCUMENT_EXISTS",
                    details={"document_id": existing.document_id},
                )
        document = global_document(body, body.slug, principal.user_id)
        return self._store_new(principal, document, DocumentAccess.MANAGE)

    def list_documents(
        self,
        principal: Principal,
        page: PageRequest,
        *,
        relation: str = "all",
        text: str | None = None,
        tag: str | None = None,
    ) -> Page[DocumentOut]:
        with self._db.session() as session:
            scopes = scopes_in(session, principal.user_id)
            documents, total = kb.visible_documents(
                session,
                principal.user_id,
                scopes,
                relation=relation,
                text=text,
                tag=tag,
                limit=page.page_size,
                offset=page.offset,
            )
            found = kb.grants_of(session, [d.document_id for d in documents])
            items = [
                views.out(d, self._access(principal, scopes, kb.facts(d, found[d.document_id])))
                for d in documents
            ]
        return Page.of(items, total, page)

    def list_global(
        self, principal: Principal, page: PageRequest, *, text: str | None, tag: str | None
    ) -> Page[DocumentOut]:
        permission = DocumentAccess.MANAGE if principal.is_admin else DocumentAccess.READ
        with self._db.session() as session:
            documents, total = kb.global_documents(
                session, text=text, tag=tag, limit=page.page_size, offset=page.offset
            )
        return Page.of([views.out(d, permission) for d in documents], total, page)

    def get_document(self, principal: Principal, document_id: str) -> DocumentDetail:
        with self._db.session() as session:
            document, granted = self._authorize(
                session, principal, document_id, DocumentAccess.READ
            )
            return views.detail(document, granted)

    def update_document(
        self, principal: Principal, document_id: str, body: DocumentUpdate
    ) -> DocumentDetail:
        changes = body.model_dump(exclude_unset=True)
        if "content" in changes:
            self._check_size(changes["content"])
        return self._rewrite(principal, document_id, changes)

    def delete_document(self, principal: Principal, document_id: str) -> None:
        with self._db.session() as session:
            document, _ = self._authorize(session, principal, document_id, DocumentAccess.MANAGE)
            title = document.title
        # Chunks first: if this fails the document is still there to delete again.
        with index_errors():
            self._vectors.delete(document_id=document_id)
        with self._db.session() as session:
            document, _ = self._authorize(
                session, principal, document_id, DocumentAccess.MANAGE, for_update=True
            )
            kb.remove_document(session, document)
            audit_document(
                session,
                principal,
                "kb.document.deleted",
                document_id,
                {"title": title},
            )
        # Once more: chunks a concurrent re-index wrote after the first delete.
        with contextlib.suppress(Exception):
            self._vectors.delete(document_id=document_id)


def new_user_document(
    session: Session,
    principal: Principal,
    body: DocumentCreate | DocumentUploadRequest,
    *,
    content: str,
) -> KnowledgeDocument:
    """A new user document of the caller's, placed where they may put it (its text is
    inline, or arrives later with its upload)."""
    team_id, org_id = placement(session, principal, body.visibility, body.team_id, body.org_id)
    return KnowledgeDocument(
        document_id=new_id("kbd"),
        scope=Scope.USER.value,
        owner_id=principal.user_id,
        title=body.title,
        content=content,
        content_type=body.content_type.value,
        visibility=body.visibility.value,
        team_id=team_id,
        org_id=org_id,
        tags=body.tags,
        slug=None,
    )


def global_document(
    body: GlobalDocumentCreate, slug: str | None, owner_id: str | None
) -> KnowledgeDocument:
    """A new global article: no team, no organization, readable by everyone."""
    return KnowledgeDocument(
        document_id=new_id("kbd"),
        scope=Scope.GLOBAL.value,
        owner_id=owner_id,
        title=body.title,
        content=body.content,
        content_type=body.content_type.value,
        visibility=Visibility.ORGANIZATION.value,
        team_id=None,
        org_id=None,
        tags=body.tags,
        slug=slug,
    )
