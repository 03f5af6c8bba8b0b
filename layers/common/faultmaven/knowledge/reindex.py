"""Rebuilding chunks from PostgreSQL, the truth: every document (after switching models,
or to repair the vector store), and the global KB from its seed articles."""

from __future__ import annotations

from collections.abc import Sequence

from faultmaven.knowledge import store as kb
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import content_basis, content_hash, index_errors
from faultmaven.knowledge.documents import global_document
from faultmaven.knowledge.indexing import chunk_records
from faultmaven.knowledge.models import DocumentStatus, GlobalDocumentCreate
from faultmaven.knowledge.writing import Writer


class Reindexing(Writer):
    def reindex(self) -> int:
        """Rebuild every KB document's chunks; case memory is re-indexed by
        reprocessing its evidence."""
        with self._db.session() as session:
            ids = kb.indexable_ids(session)
        return sum(self._reindex_document(document_id) for document_id in ids)

    def seed_global(
        self, articles: Sequence[tuple[str, GlobalDocumentCreate]], *, owner_id: str | None
    ) -> dict[str, int]:
        """Load or refresh the global KB by slug: new articles are added, changed ones
        re-indexed, unchanged ones left alone (so seeding twice costs nothing)."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for slug, body in articles:
            with self._db.session() as session:
                existing = kb.global_by_slug(session, slug)
            if existing is None:
                self._store_new(None, global_document(body, slug, owner_id), DocumentAccess.MANAGE)
                counts["created"] += 1
                continue
            same_text = (
                existing.content_hash == content_hash(body.content)
                and existing.title == body.title
                and list(existing.tags) == body.tags
            )
            if not same_text:
                changes: dict[str, object] = {
                    "title": body.title,
                    "content": body.content,
                    "tags": body.tags,
                }
                self._rewrite(None, existing.document_id, changes)
                counts["updated"] += 1
                continue
            # Unchanged text; its chunks may still be missing (a seed interrupted between
            # the row and its vectors, or another model).
            indexed = (
                existing.status == DocumentStatus.READY.value
                and existing.embedding_model == self._embedder.spec.model
                and existing.chunk_count > 0
            )
            if indexed and self._vectors.count(document_id=existing.document_id) == (
                existing.chunk_count
            ):
                counts["unchanged"] += 1
            else:
                self._reindex_document(existing.document_id)
                counts["updated"] += 1
        return counts

    def _reindex_document(self, document_id: str) -> int:
        """Rebuild one document's chunks from its row and mark it searchable again
        (unless its text changed meanwhile: that change indexed it)."""
        with self._db.session() as session:
            document = kb.get(session, document_id)
            if document is None:
                return 0
            readers = self._readers(session, document)
        chunks, vectors = self._embed_chunks(document)
        with index_errors():
            self._vectors.delete(document_id=document_id)
            self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
        with self._db.session() as session:
            stored = kb.get(session, document_id, for_update=True)
            if stored is not None and content_basis(stored) == content_basis(document):
                stored.status = DocumentStatus.READY.value
                stored.failure_reason = None
                stored.chunk_count = len(chunks)
                stored.embedding_model = self._embedder.spec.model
        self._settle(document_id, readers)
        return len(chunks)
