"""Knowledge bases: user runbooks (shareable), the global KB, case working memory, and
search over whichever of them the caller may read.

PostgreSQL holds documents and shares (the truth); the vector store holds derived chunks
with their reader tokens. Writes embed first (nothing is stored if the model fails), then
commit the row, then write the chunks; deletes remove chunks first, then the row. Search
filters by reader tokens inside the vector query and checks every result against the
database again, so a stale chunk (a share revoked while its tokens were being updated,
a document deleted while its chunks were) is never returned.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from faultmaven.audit import service as audit
from faultmaven.auth.principal import Principal, require_admin
from faultmaven.cases.access import Access
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    AppError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.logging import logger
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database, Embedder, ObjectStore, VectorStore
from faultmaven.core.vectors import (
    ChunkRecord,
    Scope,
    SearchFilter,
    VectorHit,
    case_token,
)
from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern, page_of
from faultmaven.db.tables import KnowledgeDocument, KnowledgeShare
from faultmaven.evidence.models import UploadInstructions
from faultmaven.knowledge import access, ranking
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.access import DocumentAccess, DocumentFacts
from faultmaven.knowledge.indexing import chunk_document, chunk_records
from faultmaven.knowledge.models import (
    ContentType,
    DocumentCreate,
    DocumentDetail,
    DocumentOut,
    DocumentStatus,
    DocumentUpdate,
    DocumentUploadAccepted,
    DocumentUploadRequest,
    GlobalDocumentCreate,
    SearchHit,
    SearchRequest,
    SearchResponse,
    ShareCreate,
    ShareOut,
    Visibility,
)
from faultmaven.knowledge.placement import check_grantee, placement
from faultmaven.knowledge.uploads import (
    UPLOAD_PREFIX,
    UnusableFileError,
    read_upload,
    upload_key,
)
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.store import scopes_in

RequireCaseAccess = Callable[[Principal, str, Access], object]
Mode = Literal["hybrid", "vector", "keyword"]
# Each list is fetched deeper than `k`: fusion and the re-check need room to reorder.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 20


class KnowledgeService:
    def __init__(
        self,
        database: Database,
        vectors: VectorStore,
        embedder: Embedder,
        *,
        require_case_access: RequireCaseAccess,
        max_document_bytes: int,
        objects: ObjectStore | None = None,
        max_upload_bytes: int = 0,
        url_ttl_seconds: int = 300,
    ) -> None:
        self._db = database
        self._vectors = vectors
        self._embedder = embedder
        self._require_case_access = require_case_access
        self._max_bytes = max_document_bytes
        self._objects = objects
        self._max_upload_bytes = max_upload_bytes
        self._url_ttl = url_ttl_seconds
        self._ready = False

    # -- documents ---------------------------------------------------------------

    def create_document(self, principal: Principal, body: DocumentCreate) -> DocumentDetail:
        self._check_size(body.content)
        with self._db.session() as session:
            team_id, org_id = placement(
                session, principal, body.visibility, body.team_id, body.org_id
            )
        document = KnowledgeDocument(
            document_id=new_id("kbd"),
            scope=Scope.USER.value,
            owner_id=principal.user_id,
            title=body.title,
            content=body.content,
            content_type=body.content_type.value,
            visibility=body.visibility.value,
            team_id=team_id,
            org_id=org_id,
            tags=body.tags,
            slug=None,
        )
        return self._store_new(principal, document, DocumentAccess.MANAGE)

    def request_upload(
        self, principal: Principal, body: DocumentUploadRequest
    ) -> DocumentUploadAccepted:
        """A pending document and a presigned form for its file; the S3 notification
        brings the file to `on_object_created`, which indexes it."""
        if self._objects is None:
            raise ServiceUnavailableError("Uploads are not configured")
        if body.size_bytes > self._max_upload_bytes:
            raise PayloadTooLargeError(
                f"Knowledge uploads are limited to {self._max_upload_bytes} bytes",
                error_code="DOCUMENT_TOO_LARGE",
                details={"size_bytes": body.size_bytes, "max_bytes": self._max_upload_bytes},
            )
        now = utcnow()
        with self._db.session() as session:
            team_id, org_id = placement(
                session, principal, body.visibility, body.team_id, body.org_id
            )
            document = KnowledgeDocument(
                document_id=new_id("kbd"),
                scope=Scope.USER.value,
                owner_id=principal.user_id,
                title=body.title,
                content="",
                content_type=body.content_type.value,
                content_hash="",
                size_bytes=0,
                visibility=body.visibility.value,
                team_id=team_id,
                org_id=org_id,
                tags=body.tags,
                slug=None,
                status=DocumentStatus.PENDING.value,
                chunk_count=0,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(document)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="kb.document.created",
                object_type="kb_document",
                object_id=document.document_id,
                details={"scope": document.scope, "title": document.title, "upload": True},
            )
        return DocumentUploadAccepted(
            document=_out(document, DocumentAccess.MANAGE),
            upload=UploadInstructions.presign(
                self._objects,
                upload_key(document.document_id, body.content_type),
                content_type=body.content_type.value,
                max_bytes=self._max_upload_bytes,
                expires_in=self._url_ttl,
            ),
        )

    def on_object_created(self, raw_key: str, size: int) -> str:
        """Index an uploaded document file; say what happened. Unknown keys and repeated
        notifications change nothing; a file that cannot be used fails the document
        with a reason (the owner can PATCH content or delete it)."""
        key = unquote_plus(raw_key)
        parts = key.split("/")
        if len(parts) != 3 or f"{parts[0]}/" != UPLOAD_PREFIX or not looks_like_id(parts[1], "kbd"):
            logger.warning("knowledge upload for an unknown key", extra={"key": key[:300]})
            return "ignored"
        document_id = parts[1]
        with self._db.session() as session:
            document = kb.get(session, document_id)
            if document is None or key != upload_key(
                document_id, ContentType(document.content_type)
            ):
                return "ignored"
            if document.status != DocumentStatus.PENDING.value:
                return "duplicate"
        assert self._objects is not None
        try:
            content = read_upload(self._objects, key, size, max_bytes=self._max_upload_bytes)
        except UnusableFileError as exc:
            self._fail(document_id, str(exc))
            self._objects.delete(key)
            return "rejected"
        except Exception:
            if not self._pending(document_id):
                return "duplicate"  # a redelivery: the first one ingested and removed it
            raise
        try:
            self._rewrite(None, document_id, {"content": content}, pending_ok=True)
        except (ConflictError, NotFoundError):
            return "duplicate"  # ingested by a redelivery meanwhile, or deleted
        except ServiceUnavailableError as exc:
            self._fail(document_id, exc.message)
            return "failed"
        self._objects.delete(key)  # PostgreSQL holds the text now
        return "indexed"

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
        document = _global_document(body, body.slug, principal.user_id)
        return self._store_new(principal, document, DocumentAccess.MANAGE)

    def seed_global(
        self, articles: Sequence[tuple[str, GlobalDocumentCreate]], *, owner_id: str | None
    ) -> dict[str, int]:
        """Load or refresh the global KB by slug: new articles are added, changed ones
        re-indexed, unchanged ones left alone (so seeding twice costs nothing)."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for slug, body in articles:
            with self._db.session() as session:
                existing = kb.global_by_slug(session, slug)
                existing_id = existing.document_id if existing is not None else None
                same_text = existing is not None and (
                    existing.content_hash == _hash(body.content)
                    and existing.title == body.title
                    and list(existing.tags) == body.tags
                )
                indexed = existing is not None and (
                    existing.status == DocumentStatus.READY.value
                    and existing.embedding_model == self._embedder.spec.model
                    and existing.chunk_count > 0
                )
                expected_chunks = existing.chunk_count if existing is not None else 0
            if same_text and existing_id is not None:
                # Unchanged text; its chunks may still be missing (a seed interrupted
                # between the row and its vectors, or another model).
                if indexed and self._vectors.count(document_id=existing_id) == expected_chunks:
                    counts["unchanged"] += 1
                else:
                    self._reindex_document(existing_id)
                    counts["updated"] += 1
                continue
            if existing_id is None:
                self._store_new(None, _global_document(body, slug, owner_id), DocumentAccess.MANAGE)
                counts["created"] += 1
            else:
                self._rewrite(
                    None,
                    existing_id,
                    {"title": body.title, "content": body.content, "tags": body.tags},
                )
                counts["updated"] += 1
        return counts

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
            query = kb.visible_documents_query(principal.user_id, scopes, relation)
            query = _narrow(query, text, tag).order_by(
                KnowledgeDocument.updated_at.desc(), KnowledgeDocument.document_id
            )
            documents, total = page_of(session, query, limit=page.page_size, offset=page.offset)
            found = kb.grants_of(session, [d.document_id for d in documents])
            items = [
                _out(d, self._access(principal, scopes, kb.facts(d, found[d.document_id])))
                for d in documents
            ]
        return Page.of(items, total, page)

    def list_global(
        self, principal: Principal, page: PageRequest, *, text: str | None, tag: str | None
    ) -> Page[DocumentOut]:
        permission = DocumentAccess.MANAGE if principal.is_admin else DocumentAccess.READ
        with self._db.session() as session:
            query = _narrow(kb.global_documents_query(), text, tag).order_by(
                KnowledgeDocument.title, KnowledgeDocument.document_id
            )
            documents, total = page_of(session, query, limit=page.page_size, offset=page.offset)
        return Page.of([_out(d, permission) for d in documents], total, page)

    def get_document(self, principal: Principal, document_id: str) -> DocumentDetail:
        with self._db.session() as session:
            document, granted = self._authorize(
                session, principal, document_id, DocumentAccess.READ
            )
            return _detail(document, granted)

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
        with _index_errors():
            self._vectors.delete(document_id=document_id)
        with self._db.session() as session:
            document, _ = self._authorize(
                session, principal, document_id, DocumentAccess.MANAGE, for_update=True
            )
            session.delete(document)  # its shares go with it (ON DELETE CASCADE)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="kb.document.deleted",
                object_type="kb_document",
                object_id=document_id,
                details={"title": title},
            )
        # Once more: chunks a concurrent re-index wrote after the first delete.
        with contextlib.suppress(Exception):
            self._vectors.delete(document_id=document_id)

    # -- shares --------------------------------------------------------------------

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
            session.add(share)
            previous = document.visibility
            if document.visibility == Visibility.PRIVATE.value:
                document.visibility = Visibility.SHARED.value
            document.updated_at = utcnow()
            audit.record(
                session,
                actor_id=principal.user_id,
                action="kb.share.created",
                object_type="kb_document",
                object_id=document_id,
                details={
                    "share_id": share.share_id,
                    "grantee_type": body.grantee_type.value,
                    "grantee_id": body.grantee_id,
                    "permission": body.permission.value,
                    "visibility": {"from": previous, "to": document.visibility},
                },
            )
            session.flush()
            readers = self._readers(session, document)
            out = ShareOut.model_validate(share)
        self._update_readers(document_id, readers)
        return out

    def remove_share(self, principal: Principal, document_id: str, share_id: str) -> None:
        with self._db.session() as session:
            document, _ = self._authorize(
                session, principal, document_id, DocumentAccess.MANAGE, for_update=True
            )
            share = session.get(KnowledgeShare, share_id)
            if share is None or share.document_id != document_id:
                raise NotFoundError("Share not found", error_code="SHARE_NOT_FOUND")
            session.delete(share)
            document.updated_at = utcnow()
            audit.record(
                session,
                actor_id=principal.user_id,
                action="kb.share.deleted",
                object_type="kb_document",
                object_id=document_id,
                details={
                    "share_id": share_id,
                    "grantee_type": share.grantee_type,
                    "grantee_id": share.grantee_id,
                },
            )
            session.flush()
            readers = self._readers(session, document)
        self._update_readers(document_id, readers)

    # -- search --------------------------------------------------------------------

    def search(
        self, principal: Principal, body: SearchRequest, *, mode: Mode = "hybrid"
    ) -> SearchResponse:
        with self._db.session() as session:
            scopes = scopes_in(session, principal.user_id)
        tokens = set(access.caller_tokens(principal.user_id, scopes))
        if body.case_id is not None:
            self._require_case_access(principal, body.case_id, Access.READ)
            tokens.add(case_token(body.case_id))
        where = SearchFilter(
            scopes=frozenset(body.scopes),
            readers=frozenset(tokens),
            document_ids=frozenset(body.filters.document_ids),
            tags=frozenset(t.lower() for t in body.filters.tags),
        )
        self._ensure()
        depth = max(body.k * CANDIDATE_FACTOR, MIN_CANDIDATES)
        vector_hits: list[VectorHit] = []
        keyword_hits: list[VectorHit] = []
        if mode != "keyword":
            query_vector = self._embed([body.query])[0]
            with _index_errors():
                vector_hits = self._vectors.search(query_vector, where, depth)
        if mode != "vector":
            with _index_errors():
                keyword_hits = self._vectors.keyword_search(body.query, where, depth)
        if mode == "hybrid":
            ranked = ranking.fuse(vector_hits, keyword_hits)
        else:
            ranked = ranking.only(vector_hits or keyword_hits, is_vector=mode == "vector")
        allowed = self._recheck(principal, scopes, body.case_id, [r.hit for r in ranked])
        items = [
            SearchHit(
                document_id=r.hit.document_id,
                chunk_id=r.hit.chunk_id,
                scope=r.hit.scope,
                title=r.hit.title,
                text=r.hit.text,
                score=round(r.score, 6),
                similarity=None if r.similarity is None else round(r.similarity, 6),
                source=r.hit.source,
                heading_path=list(r.hit.heading_path),
                case_id=r.hit.case_id,
            )
            for r in ranked
            if r.hit.chunk_id in allowed
        ][: body.k]
        return SearchResponse(items=items, model=self._embedder.spec.model)

    # -- case working memory -----------------------------------------------------------

    def index_case_memory(
        self,
        *,
        case_id: str,
        evidence_id: str,
        source: str,
        chunks: Sequence[tuple[str, str]],
    ) -> int:
        """Embed and store the chunks of one piece of evidence (`(chunk_id, text)` in
        order), replacing what it had: the preprocessing Index step."""
        self._ensure()
        vectors = self._embed([text for _, text in chunks])
        records = [
            ChunkRecord(
                chunk_id=chunk_id,
                document_id=evidence_id,
                scope=Scope.CASE,
                ordinal=ordinal,
                text=text,
                embedding=vector,
                readers=frozenset({case_token(case_id)}),
                title=source[:200],
                heading_path=(source,),
                source=source,
                case_id=case_id,
            )
            for ordinal, ((chunk_id, text), vector) in enumerate(zip(chunks, vectors, strict=True))
        ]
        self._vectors.delete(document_id=evidence_id)
        self._vectors.upsert(records)
        return len(records)

    def forget_evidence(self, evidence_id: str) -> int:
        return self._vectors.delete(document_id=evidence_id)

    def forget_case(self, case_id: str, *, indexed_before: datetime | None = None) -> int:
        return self._vectors.delete(case_id=case_id, indexed_before=indexed_before)

    def forget_owner(self, user_id: str) -> int:
        return self._vectors.delete(owner_id=user_id)

    def reindex(self) -> int:
        """Rebuild every KB document's chunks from PostgreSQL (after switching models, or
        to repair the vector store); case memory is re-indexed by reprocessing."""
        with self._db.session() as session:
            ids = list(
                session.scalars(
                    select(KnowledgeDocument.document_id).where(
                        KnowledgeDocument.status != DocumentStatus.PENDING.value
                    )
                )
            )
        return sum(self._reindex_document(document_id) for document_id in ids)

    def _reindex_document(self, document_id: str) -> int:
        """Rebuild one document's chunks from its row and mark it searchable again."""
        with self._db.session() as session:
            document = kb.get(session, document_id)
            if document is None:
                return 0
            readers = self._readers(session, document)
            basis = _content_basis(document)
        count = self._index(document, readers)
        with self._db.session() as session:
            document = kb.get(session, document_id, for_update=True)
            if document is not None and _content_basis(document) == basis:
                document.status = DocumentStatus.READY.value
                document.failure_reason = None
                document.chunk_count = count
                document.embedding_model = self._embedder.spec.model
        self._settle(document_id, readers)
        return count

    # -- a user exporting their data or leaving (see privacy.service) ------------------

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
            with _index_errors():
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

    # -- internals ---------------------------------------------------------------------

    def _ensure(self) -> None:
        if not self._ready:
            with _index_errors():
                self._vectors.ensure(self._embedder.spec)
            self._ready = True

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            return self._embedder.embed(texts)
        except Exception as exc:  # a model or Bedrock failure: nothing was stored
            logger.error("embedding failed", extra={"error": type(exc).__name__})
            raise ServiceUnavailableError(
                "The embedding model is unavailable; nothing was stored",
                error_code="EMBEDDING_UNAVAILABLE",
            ) from exc

    def _check_size(self, content: str) -> None:
        size = len(content.encode())
        if size > self._max_bytes:
            raise PayloadTooLargeError(
                "The document is too large to post inline; upload it as a file",
                error_code="DOCUMENT_TOO_LARGE",
                details={"size_bytes": size, "max_bytes": self._max_bytes},
            )

    def _store_new(
        self, principal: Principal | None, document: KnowledgeDocument, granted: DocumentAccess
    ) -> DocumentDetail:
        self._ensure()
        chunks = chunk_document(document)
        vectors = self._embed([c.embedding_text for c in chunks])
        now = utcnow()
        document.content_hash = _hash(document.content)
        document.size_bytes = len(document.content.encode())
        document.status = DocumentStatus.READY.value
        document.chunk_count = len(chunks)
        document.embedding_model = self._embedder.spec.model
        document.version = 1
        document.created_at = document.updated_at = now
        with self._db.session() as session:
            session.add(document)
            audit.record(
                session,
                actor_id=principal.user_id if principal else None,
                action="kb.document.created",
                object_type="kb_document",
                object_id=document.document_id,
                details={"scope": document.scope, "title": document.title},
            )
            session.flush()
            readers = self._readers(session, document)
        try:
            with _index_errors():
                self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
        except ServiceUnavailableError:
            # Leave nothing half-made: no row, and no chunk if the store lets us.
            with self._db.session() as session:
                stored = kb.get(session, document.document_id, for_update=True)
                if stored is not None:
                    session.delete(stored)
            with contextlib.suppress(Exception):
                self._vectors.delete(document_id=document.document_id)
            raise
        return _detail(document, granted)

    def _pending(self, document_id: str) -> bool:
        with self._db.session() as session:
            document = kb.get(session, document_id)
            return document is not None and document.status == DocumentStatus.PENDING.value

    def _fail(self, document_id: str, reason: str) -> None:
        with self._db.session() as session:
            document = kb.get(session, document_id, for_update=True)
            if document is not None and document.status == DocumentStatus.PENDING.value:
                document.status = DocumentStatus.FAILED.value
                document.failure_reason = reason[:500]
                document.updated_at = utcnow()

    def _rewrite(
        self,
        principal: Principal | None,
        document_id: str,
        changes: dict[str, object],
        *,
        pending_ok: bool = False,
    ) -> DocumentDetail:
        moves = {"visibility", "team_id", "org_id"} & changes.keys()
        needed = DocumentAccess.MANAGE if moves else DocumentAccess.WRITE
        with self._db.session() as session:
            if principal is None:
                document = kb.get(session, document_id)
                if document is None:
                    raise NotFoundError("Document not found", error_code="DOCUMENT_NOT_FOUND")
                granted = DocumentAccess.MANAGE
            else:
                document, granted = self._authorize(session, principal, document_id, needed)
            basis = _content_basis(document)
            if document.status == DocumentStatus.PENDING.value and not pending_ok:
                raise ConflictError(
                    "The document is waiting for its upload", error_code="DOCUMENT_NOT_READY"
                )
            draft: dict[str, object] = {
                "title": document.title,
                "content": document.content,
                "content_type": document.content_type,
                "tags": list(document.tags),
                "visibility": document.visibility,
                "team_id": document.team_id,
                "org_id": document.org_id,
            }
            for name, value in changes.items():
                draft[name] = value.value if isinstance(value, ContentType | Visibility) else value
            if moves:
                if document.scope != Scope.USER.value:
                    raise ValidationFailedError(
                        "Global documents have no visibility to change",
                        error_code="VALIDATION_FAILED",
                    )
                assert principal is not None
                narrowing = draft["visibility"] in (
                    Visibility.PRIVATE.value,
                    Visibility.SHARED.value,
                ) and (draft["team_id"], draft["org_id"]) == (document.team_id, document.org_id)
                if not narrowing:  # an owner who left the team may still narrow it
                    draft["team_id"], draft["org_id"] = placement(
                        session,
                        principal,
                        Visibility(str(draft["visibility"])),
                        _opt(draft["team_id"]),
                        _opt(draft["org_id"]),
                    )
        reindex = any(
            draft[name] != value
            for name, value in (
                ("title", document.title),
                ("content", document.content),
                ("content_type", document.content_type),
                ("tags", list(document.tags)),
            )
        )
        preview = KnowledgeDocument(
            document_id=document_id,
            scope=document.scope,
            owner_id=document.owner_id,
            title=str(draft["title"]),
            content=str(draft["content"]),
            content_type=str(draft["content_type"]),
            tags=[str(t) for t in draft["tags"]],  # type: ignore[attr-defined]
            visibility=str(draft["visibility"]),
            team_id=_opt(draft["team_id"]),
            org_id=_opt(draft["org_id"]),
        )
        chunks = chunk_document(preview) if reindex else []
        vectors = self._embed([c.embedding_text for c in chunks]) if reindex else []
        if reindex:
            self._ensure()
        with self._db.session() as session:
            if principal is None:
                document = kb.get(session, document_id, for_update=True)
                if document is None:
                    raise NotFoundError("Document not found", error_code="DOCUMENT_NOT_FOUND")
            else:
                # Again under the lock: a share revoked meanwhile counts.
                document, granted = self._authorize(
                    session, principal, document_id, needed, for_update=True
                )
            if reindex and _content_basis(document) != basis:
                # Someone changed the text while this change was being embedded: the
                # chunks would match neither version.
                raise ConflictError(
                    "The document changed meanwhile; read it again and retry",
                    error_code="DOCUMENT_CHANGED",
                )
            if (
                moves
                and preview.visibility == Visibility.PRIVATE.value
                and kb.grants_of(session, [document_id])[document_id]
            ):
                raise ConflictError(
                    "Remove the document's shares before making it private",
                    error_code="DOCUMENT_HAS_SHARES",
                )
            # Only what was asked: a concurrent change to another field stands.
            for name in changes.keys() & {"title", "content", "content_type", "tags"}:
                setattr(document, name, getattr(preview, name))
            if moves:
                document.visibility = preview.visibility
                document.team_id, document.org_id = preview.team_id, preview.org_id
            document.updated_at = utcnow()
            if reindex:
                if document.status != DocumentStatus.READY.value:
                    document.status = DocumentStatus.READY.value
                    document.failure_reason = None
                else:
                    document.version += 1
                document.content_hash = _hash(document.content)
                document.size_bytes = len(document.content.encode())
                document.chunk_count = len(chunks)
                document.embedding_model = self._embedder.spec.model
            audit.record(
                session,
                actor_id=principal.user_id if principal else None,
                action="kb.document.updated",
                object_type="kb_document",
                object_id=document_id,
                details={"fields": sorted(changes), "reindexed": reindex},
            )
            session.flush()
            readers = self._readers(session, document)
            out = _detail(document, granted)
        if reindex:
            try:
                with _index_errors():
                    self._vectors.delete(document_id=document_id)
                    self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
            except ServiceUnavailableError:
                # Saved, not searchable: say so on the document until it is re-indexed
                # (any later content change, or `faultmaven kb reindex`).
                self._mark_unindexed(document_id)
                raise
            self._settle(document_id, readers)
        elif moves:
            self._update_readers(document_id, readers)
        return out

    def _settle(self, document_id: str, written: frozenset[str]) -> None:
        """After chunks were written outside the row's lock: a share changed meanwhile
        needs its tokens on them, and a document deleted meanwhile must not keep them."""
        with self._db.session() as session:
            document = kb.get(session, document_id)
            readers = self._readers(session, document) if document is not None else None
        if readers is None:
            with contextlib.suppress(Exception):
                self._vectors.delete(document_id=document_id)
        elif readers != written:
            self._update_readers(document_id, readers)

    def _update_readers(self, document_id: str, readers: frozenset[str]) -> None:
        """The database already holds the new access; a failure here leaves old tokens
        on the chunks, which the re-check at search time overrules (a revoked reader
        finds nothing; a new one finds the document once `kb reindex` runs)."""
        try:
            self._vectors.set_readers(document_id, readers)
        except Exception as exc:
            logger.error(
                "could not update the reader tokens of a document's chunks",
                extra={"document_id": document_id, "error": type(exc).__name__},
            )

    def _mark_unindexed(self, document_id: str) -> None:
        with self._db.session() as session:
            document = kb.get(session, document_id, for_update=True)
            if document is not None:
                document.status = DocumentStatus.FAILED.value
                document.failure_reason = "Saved but not indexed: the search index was unavailable"
                document.chunk_count = 0

    def _index(self, document: KnowledgeDocument, readers: frozenset[str]) -> int:
        self._ensure()
        chunks = chunk_document(document)
        vectors = self._embed([c.embedding_text for c in chunks])
        with _index_errors():
            self._vectors.delete(document_id=document.document_id)
            self._vectors.upsert(chunk_records(document, chunks, vectors, readers))
        return len(chunks)

    def _readers(self, session: Session, document: KnowledgeDocument) -> frozenset[str]:
        found = kb.grants_of(session, [document.document_id])
        return access.readers_of(kb.facts(document, found[document.document_id]))

    def _access(self, principal: Principal, scopes: Scopes, facts: DocumentFacts) -> DocumentAccess:
        return access.access_of(principal.user_id, principal.is_admin, scopes, facts)

    def _authorize(
        self,
        session: Session,
        principal: Principal,
        document_id: str,
        needed: DocumentAccess,
        *,
        for_update: bool = False,
    ) -> tuple[KnowledgeDocument, DocumentAccess]:
        document = kb.get(session, document_id, for_update=for_update)
        if document is None:
            raise NotFoundError("Document not found", error_code="DOCUMENT_NOT_FOUND")
        scopes = scopes_in(session, principal.user_id)
        facts = kb.facts(document, kb.grants_of(session, [document_id])[document_id])
        granted = self._access(principal, scopes, facts)
        access.require(granted, needed)
        return document, granted

    def _recheck(
        self,
        principal: Principal,
        scopes: Scopes,
        case_id: str | None,
        hits: Sequence[VectorHit],
    ) -> set[str]:
        """The chunk ids the caller may read according to PostgreSQL, not the index."""
        document_ids = {h.document_id for h in hits if h.scope is not Scope.CASE}
        with self._db.session() as session:
            documents = {
                d.document_id: d
                for d in session.scalars(
                    select(KnowledgeDocument).where(KnowledgeDocument.document_id.in_(document_ids))
                )
            }
            found = kb.grants_of(session, documents)
            evidence = kb.evidence_of_case(
                session, case_id, {h.document_id for h in hits if h.scope is Scope.CASE}
            )
        allowed = set()
        for hit in hits:
            if hit.scope is Scope.CASE:
                if case_id is not None and hit.case_id == case_id and hit.document_id in evidence:
                    allowed.add(hit.chunk_id)
                continue
            document = documents.get(hit.document_id)
            if document is None or document.scope != hit.scope.value:
                continue
            facts = kb.facts(document, found[document.document_id])
            if self._access(principal, scopes, facts) >= DocumentAccess.READ:
                allowed.add(hit.chunk_id)
        return allowed


@contextlib.contextmanager
def _index_errors() -> Iterator[None]:
    """A vector store failure (network, throttling, a model mismatch) is a 503 with the
    envelope, not a 500; our own errors pass through."""
    try:
        yield
    except AppError:
        raise
    except Exception as exc:
        # The type only: vendor errors quote what failed to be written (chunk text).
        logger.error("the vector store failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailableError(
            "The knowledge index is unavailable; please retry",
            error_code="KNOWLEDGE_INDEX_UNAVAILABLE",
        ) from exc


def _global_document(
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


def _content_basis(document: KnowledgeDocument) -> tuple[object, ...]:
    """What the chunks are made from: a change to any of it makes them stale."""
    return (document.title, document.content, document.content_type, list(document.tags))


def _hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _narrow(
    query: Select[KnowledgeDocument], text: str | None, tag: str | None
) -> Select[KnowledgeDocument]:
    if text:
        pattern = contains_pattern(text)
        query = query.where(
            or_(
                KnowledgeDocument.title.ilike(pattern, escape=LIKE_ESCAPE),
                KnowledgeDocument.content.ilike(pattern, escape=LIKE_ESCAPE),
            )
        )
    if tag:
        query = query.where(KnowledgeDocument.tags.contains([tag.lower()]))
    return query


def _fields(document: KnowledgeDocument, granted: DocumentAccess) -> dict[str, object]:
    names = DocumentOut.model_fields.keys() - {"my_permission"}
    return {
        **{name: getattr(document, name) for name in names},
        "my_permission": granted.name.lower(),
    }


def _out(document: KnowledgeDocument, granted: DocumentAccess) -> DocumentOut:
    return DocumentOut.model_validate(_fields(document, granted))


def _detail(document: KnowledgeDocument, granted: DocumentAccess) -> DocumentDetail:
    return DocumentDetail.model_validate(
        {**_fields(document, granted), "content": document.content}
    )
