"""Sharing a user document with a user, a team or an organization, and revoking it.
The database changes first; the chunks' reader tokens follow once it committed."""

from __future__ import annotations

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError
from faultmaven.core.ids import new_id
from faultmaven.core.vectors import Scope
from faultmaven.db.tables import KnowledgeShare
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import ServiceBase, audit_document
from faultmaven.knowledge.models import ShareCreate, ShareOut, Visibility
from faultmaven.knowledge.placement import check_grantee
from faultmaven.organizations.queries import scopes_in


class Shares(ServiceBase):
    def list_shares(self, principal: Principal, document_id: str) -> list[ShareOut]:
        with self._db.session() as session:
            self._authorize(session, principal, document_id, DocumentAccess.MANAGE)
            return [ShareOut.model_validate(s) for s in kb.shares_of(session, document_id)]

    def add_share(self, principal: Principal, document_id: str, body: ShareCreate) -> ShareOut:
        with self._db.session() as session:
            document, _ = self._authorize(
                session, principal, document_id, DocumentAccess.MANAGE, for_update=True
            )
            if document.scope != Scope.USER.value:
                raise ConflictError(
                    "Global documents are read by everyone and cannot be shared",
                    error_code="DOCUMENT_NOT_SHAREABLE",
                )
            scopes = scopes_in(session, principal.user_id)
            check_grantee(session, principal, scopes, document, body)
            if any(
                (s.grantee_type, s.grantee_id) == (body.grantee_type.value, body.grantee_id)
                for s in kb.shares_of(session, document_id)
            ):
                raise ConflictError(
                    "The document is already shared with this grantee",
                    error_code="SHARE_EXISTS",
                )
            share = KnowledgeShare(
                share_id=new_id("shr"),
                document_id=document_id,
                grantee_type=body.grantee_type.value,
                grantee_id=body.grantee_id,
                permission=body.permission.value,
                created_by=principal.user_id,
                created_at=utcnow(),
            )
            kb.add_share(session, share)
            previous = document.visibility
            if document.visibility == Visibility.PRIVATE.value:
                document.visibility = Visibility.SHARED.value
            document.updated_at = utcnow()
            audit_document(
                session,
                principal,
                "kb.share.created",
                document_id,
                {
                    "share_id": share.share_id,
                    "grantee_type": body.grantee_type.value,
                    "grantee_id": body.grantee_id,
                    "permission": body.permission.value,
                    "visibility": {"from": previous, "to": document.visibility},
                },
            )
            kb.flush(session)
            readers = self._readers(session, document)
            out = ShareOut.model_validate(share)
        self._update_readers(document_id, readers)
        return out

    def remove_share(self, principal: Principal, document_id: str, share_id: str) -> None:
        with self._db.session() as session:
            document, _ = self._authorize(
                session, principal, document_id, DocumentAccess.MANAGE, for_update=True
            )
            share = kb.share(session, share_id)
            if share is None or share.document_id != document_id:
                raise NotFoundError("Share not found", error_code="SHARE_NOT_FOUND")
            kb.delete_share(session, share)
            document.updated_at = utcnow()
            audit_document(
                session,
                principal,
                "kb.share.deleted",
                document_id,
                {
                    "share_id": share_id,
                    "grantee_type": share.grantee_type,
                    "grantee_id": share.grantee_id,
                },
            )
            readers = self._readers(session, document)
        self._update_readers(document_id, readers)
