"""A user exporting their data or leaving (see `privacy.service`): their documents as
plain data, which of them others read, and erasing or handing them over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faultmaven.audit import service as audit
from faultmaven.core.clock import utcnow
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.base import index_errors
from faultmaven.knowledge.models import Visibility
from faultmaven.knowledge.reindex import Reindexing


class Owners(Reindexing):
    def export_owned(self, user_id: str) -> list[dict[str, Any]]:
        """The user's own documents, text included, as plain data for an archive."""
        with self._db.session() as session:
            return [
                {
                    "document_id": d.document_id,
                    "title": d.title,
                    "content_type": d.content_type,
                    "visibility": d.visibility,
                    "tags": list(d.tags),
                    "created_at": d.created_at.isoformat(),
                    "updated_at": d.updated_at.isoformat(),
                    "content": d.content,
                }
                for d in kb.owned_documents(session, user_id)
            ]

    def owned_split(self, user_id: str) -> tuple[list[str], list[str]]:
        """The user's documents that others can read (shared, team or organization
        visibility) and those only the user reads."""
        with self._db.session() as session:
            documents = kb.owned_documents(session, user_id)
            with_shares = kb.shared_ids(session, [d.document_id for d in documents])
        shared = [
            d.document_id
            for d in documents
            if d.visibility != Visibility.PRIVATE.value or d.document_id in with_shares
        ]
        private = [d.document_id for d in documents if d.document_id not in set(shared)]
        return shared, private

    def erase_documents(self, user_id: str, document_ids: Sequence[str]) -> int:
        """Delete these documents of the user's, their chunks first (a failure leaves
        the row to delete again)."""
        wanted = set(document_ids)
        for document_id in wanted:
            with index_errors():
                self._vectors.delete(document_id=document_id)
        deleted = 0
        with self._db.session() as session:
            for document in kb.owned_documents(session, user_id, for_update=True):
                if document.document_id in wanted:
                    kb.remove_document(session, document)
                    deleted += 1
        return deleted

    def hand_over_documents(
        self, user_id: str, successor_id: str, document_ids: Sequence[str]
    ) -> int:
        """Make `successor_id` the owner of these documents of the user's (a share to the
        successor becomes redundant and goes), then rebuild their chunks, whose access
        metadata names the owner."""
        wanted = set(document_ids)
        moved: list[str] = []
        with self._db.session() as session:
            for document in kb.owned_documents(session, user_id, for_update=True):
                if document.document_id in wanted:
                    document.owner_id = successor_id
                    document.updated_at = utcnow()
                    kb.remove_user_shares(session, document.document_id, successor_id)
                    audit.record(
                        session,
                        actor_id=user_id,
                        action="kb.document.owner_transferred",
                        object_type="kb_document",
                        object_id=document.document_id,
                        details={"to": successor_id},
                    )
                    moved.append(document.document_id)
        for document_id in moved:
            self._reindex_document(document_id)
        return len(moved)
