"""Writing a document's text: embed it, commit the row, then write its chunks.

A rewrite is three steps, so that no transaction is open while the model embeds or the
index is written: `_plan` reads and checks the change in one transaction; the new text
is chunked and embedded with none open; `_apply` takes the row's lock, re-checks
(a share revoked meanwhile counts; text changed meanwhile is a 409 `DOCUMENT_CHANGED`,
since the chunks would match neither version) and commits; `_publish` then writes the
chunks and settles their reader tokens against what the database holds by then.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, ServiceUnavailableError
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge import store as kb
from faultmaven.knowledge import views
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import (
    ServiceBase,
    audit_document,
    content_basis,
    content_hash,
    index_errors,
    optional_str,
)
from faultmaven.knowledge.chunking import Chunk
from faultmaven.knowledge.indexing import chunk_document, chunk_records
from faultmaven.knowledge.models import ContentType, DocumentDetail, DocumentStatus, Visibility
from faultmaven.knowledge.placement import place_move

TEXT_FIELDS = ("title", "content", "content_type", "tags")
PLACE_FIELDS = ("visibility", "team_id", "org_id")


@dataclass(frozen=True, slots=True)
class _Plan:
    """A checked change: the document as it will read (`preview`) and the text it was
    read from (`basis`), so `_apply` can tell whether it changed meanwhile."""

    changes: dict[str, object]
    needed: DocumentAccess
    moves: bool
    reindex: bool
    basis: tuple[object, ...]
    preview: KnowledgeDocument


class Writer(ServiceBase):
    def _store_new(
        self, principal: Principal | None, document: KnowledgeDocument, granted: DocumentAccess
    ) -> DocumentDetail:
        chunks, vectors = self._embed_chunks(document)
        document.content_hash = content_hash(document.content)
        document.size_bytes = len(document.content.encode())
        document.status = DocumentStatus.READY.value
        document.chunk_count = len(chunks)
        document.embedding_model = self._embedder.spec.model
        document.version = 1
        document.created_at = document.updated_at = utcnow()
        with self._db.session() as session:
            kb.add_document(session, document)
            details = {"scope": document.scope, "title": document.title}
            audit_document(session, principal, "kb.document.created", document.document_id, details)
            readers = self._readers(session, document)
        try:
            with index_errors():
                self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
        except ServiceUnavailableError:
            # Leave nothing half-made: no row, and no chunk if the store lets us.
            with self._db.session() as session:
                stored = kb.get(session, document.document_id, for_update=True)
                if stored is not None:
                    kb.remove_document(session, stored)
            with contextlib.suppress(Exception):
                self._vectors.delete(document_id=document.document_id)
            raise
        return views.detail(document, granted)

    def _rewrite(
        self,
        principal: Principal | None,
        document_id: str,
        changes: dict[str, object],
        *,
        pending_ok: bool = False,
    ) -> DocumentDetail:
        """Change a document's fields (no principal: the system, as the seed and the
        upload trigger); re-index it when its text changes."""
        plan = self._plan(principal, document_id, changes, pending_ok=pending_ok)
        chunks, vectors = self._embed_chunks(plan.preview) if plan.reindex else ([], [])
        document, readers, out = self._apply(principal, plan, len(chunks))
        if plan.reindex:
            self._publish(document, chunks, vectors, readers)
        elif plan.moves:
            self._update_readers(document_id, readers)
        return out

    def _plan(
        self,
        principal: Principal | None,
        document_id: str,
        changes: dict[str, object],
        *,
        pending_ok: bool,
    ) -> _Plan:
        moves = bool(changes.keys() & set(PLACE_FIELDS))
        needed = DocumentAccess.MANAGE if moves else DocumentAccess.WRITE
        with self._db.session() as session:
            document, _ = self._authorize(session, principal, document_id, needed)
            if document.status == DocumentStatus.PENDING.value and not pending_ok:
                raise ConflictError(
                    "The document is waiting for its upload", error_code="DOCUMENT_NOT_READY"
                )
            draft: dict[str, object] = {
                name: getattr(document, name) for name in TEXT_FIELDS + PLACE_FIELDS
            }
            draft["tags"] = list(document.tags)
            for name, value in changes.items():
                draft[name] = value.value if isinstance(value, ContentType | Visibility) else value
            if moves:
                place_move(session, principal, document, draft)
        preview = KnowledgeDocument(
            document_id=document_id,
            scope=document.scope,
            owner_id=document.owner_id,
            title=str(draft["title"]),
            content=str(draft["content"]),
            content_type=str(draft["content_type"]),
            tags=[str(t) for t in draft["tags"]],  # type: ignore[attr-defined]
            visibility=str(draft["visibility"]),
            team_id=optional_str(draft["team_id"]),
            org_id=optional_str(draft["org_id"]),
        )
        basis = content_basis(document)
        return _Plan(changes, needed, moves, content_basis(preview) != basis, basis, preview)

    def _apply(
        self, principal: Principal | None, plan: _Plan, chunk_count: int
    ) -> tuple[KnowledgeDocument, frozenset[str], DocumentDetail]:
        """Commit the planned change under the row's lock, re-checked against what
        happened since it was planned."""
        preview = plan.preview
        with self._db.session() as session:
            # Again under the lock: a share revoked meanwhile counts.
            document, granted = self._authorize(
                session, principal, preview.document_id, plan.needed, for_update=True
            )
            if plan.reindex and content_basis(document) != plan.basis:
                raise ConflictError(
                    "The document changed meanwhile; read it again and retry",
                    error_code="DOCUMENT_CHANGED",
                )
            if (
                plan.moves
                and preview.visibility == Visibility.PRIVATE.value
                and kb.grants_of(session, [document.document_id])[document.document_id]
            ):
                raise ConflictError(
                    "Remove the document's shares before making it private",
                    error_code="DOCUMENT_HAS_SHARES",
                )
            # Only what was asked: a concurrent change to another field stands.
            for name in plan.changes.keys() & set(TEXT_FIELDS):
                setattr(document, name, getattr(preview, name))
            if plan.moves:
                document.visibility = preview.visibility
                document.team_id, document.org_id = preview.team_id, preview.org_id
            document.updated_at = utcnow()
            if plan.reindex:
                if document.status != DocumentStatus.READY.value:
                    document.status = DocumentStatus.READY.value
                    document.failure_reason = None
                else:
                    document.version += 1
                document.content_hash = content_hash(document.content)
                document.size_bytes = len(document.content.encode())
                document.chunk_count = chunk_count
                document.embedding_model = self._embedder.spec.model
            details = {"fields": sorted(plan.changes), "reindexed": plan.reindex}
            audit_document(session, principal, "kb.document.updated", document.document_id, details)
            kb.flush(session)
            readers = self._readers(session, document)
            return document, readers, views.detail(document, granted)

    def _publish(
        self,
        document: KnowledgeDocument,
        chunks: list[Chunk],
        vectors: list[list[float]],
        readers: frozenset[str],
    ) -> None:
        """Replace the chunks of a committed rewrite."""
        try:
            with index_errors():
                self._vectors.delete(document_id=document.document_id)
                self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
        except ServiceUnavailableError:
            # Saved, not searchable: say so on the document until it is re-indexed
            # (any later content change, or `faultmaven kb reindex`).
            self._mark_unindexed(document.document_id)
            raise
        self._settle(document.document_id, readers)

    def _embed_chunks(self, document: KnowledgeDocument) -> tuple[list[Chunk], list[list[float]]]:
        """The document's chunks and their vectors (the index made ready for them).
        Call it with no transaction open."""
        self._ensure()
        chunks = chunk_document(document)
        return chunks, self._embed([c.embedding_text for c in chunks])

    def _mark_unindexed(self, document_id: str) -> None:
        with self._db.session() as session:
            document = kb.get(session, document_id, for_update=True)
            if document is not None:
                document.status = DocumentStatus.FAILED.value
                document.failure_reason = "Saved but not indexed: the search index was unavailable"
                document.chunk_count = 0
