"""What every part of the knowledge service shares: its dependencies, the embedding and
index calls (with the errors they become), and the access decisions on a document.

Rule of the domain: no embedding and no vector store call while a transaction is open
(a model call takes seconds; a row lock or a pooled connection must not wait for it).
Every such call here is made between `with self._db.session()` blocks, never inside one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from faultmaven.audit import service as audit
from faultmaven.auth.principal import Principal
from faultmaven.cases.access import Access
from faultmaven.core.errors import (
    AppError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from faultmaven.core.logging import logger
from faultmaven.core.ports import Database, Embedder, ObjectStore, VectorStore
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge import access
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.access import DocumentAccess, DocumentFacts
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.queries import scopes_in

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RequireCaseAccess = Callable[[Principal, str, Access], object]


class ServiceBase:
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

    def _ensure(self) -> None:
        if not self._ready:
            with index_errors():
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

    def _access(self, principal: Principal, scopes: Scopes, facts: DocumentFacts) -> DocumentAccess:
        return access.access_of(principal.user_id, principal.is_admin, scopes, facts)

    def _authorize(
        self,
        session: Session,
        principal: Principal | None,
        document_id: str,
        needed: DocumentAccess,
        *,
        for_update: bool = False,
    ) -> tuple[KnowledgeDocument, DocumentAccess]:
        """The document and the caller's permission, at least `needed` (404 / 403
        otherwise). No principal is the system (the seed, the upload trigger)."""
        document = kb.get(session, document_id, for_update=for_update)
        if document is None:
            raise NotFoundError("Document not found", error_code="DOCUMENT_NOT_FOUND")
        if principal is None:
            return document, DocumentAccess.MANAGE
        scopes = scopes_in(session, principal.user_id)
        facts = kb.facts(document, kb.grants_of(session, [document_id])[document_id])
        granted = self._access(principal, scopes, facts)
        access.require(granted, needed)
        return document, granted

    def _readers(self, session: Session, document: KnowledgeDocument) -> frozenset[str]:
        found = kb.grants_of(session, [document.document_id])
        return access.readers_of(kb.facts(document, found[document.document_id]))

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


@contextlib.contextmanager
def index_errors() -> Iterator[None]:
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


def content_basis(document: KnowledgeDocument) -> tuple[object, ...]:
    """What the chunks are made from: a change to any of it makes them stale."""
    return (document.title, document.content, document.content_type, list(document.tags))


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def optional_str(value: object) -> str | None:
    """A draft's optional id field as stored (None stays None)."""
    return None if value is None else str(value)


def audit_document(
    session: Session,
    principal: Principal | None,
    action: str,
    document_id: str,
    details: dict[str, Any],
) -> None:
    """An audit event on a document, in the transaction that changes it (no principal:
    the system)."""
    audit.record(
        session,
        actor_id=principal.user_id if principal else None,
        action=action,
        object_type="kb_document",
        object_id=document_id,
        details=details,
    )
