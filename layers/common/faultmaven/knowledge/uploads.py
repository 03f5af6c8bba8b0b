"""Documents too large to post inline arrive as files in S3: a pending document and a
presigned form for its file; the S3 notification brings the file to `on_object_created`,
which indexes it. Also where files are uploaded, and what makes one usable as a document."""

from __future__ import annotations

from urllib.parse import unquote_plus

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from faultmaven.core.ids import looks_like_id
from faultmaven.core.logging import logger
from faultmaven.core.ports import ObjectStore
from faultmaven.core.storage import KNOWLEDGE_UPLOADS
from faultmaven.evidence.models import UploadInstructions
from faultmaven.knowledge import store as kb
from faultmaven.knowledge import views
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import audit_document
from faultmaven.knowledge.documents import new_user_document
from faultmaven.knowledge.models import (
    ContentType,
    DocumentStatus,
    DocumentUploadAccepted,
    DocumentUploadRequest,
)
from faultmaven.knowledge.writing import Writer

UPLOAD_PREFIX = KNOWLEDGE_UPLOADS


class UnusableFileError(ValueError):
    """An uploaded file that cannot become a document (the reason is shown to its owner)."""


def upload_key(document_id: str, content_type: ContentType) -> str:
    """Where a document's file is uploaded; the trigger routes this prefix here."""
    extension = "md" if content_type is ContentType.MARKDOWN else "txt"
    return f"{UPLOAD_PREFIX}{document_id}/source.{extension}"


def read_upload(objects: ObjectStore, key: str, size: int, *, max_bytes: int) -> str:
    """The file's text: UTF-8 (a BOM is dropped), not binary, not empty, within the
    limit. S3 enforces the presigned size limit on AWS; moto does not, so it is checked
    again, on the notified size and on what is read."""
    if size > max_bytes:
        raise UnusableFileError(
            f"The file is {size} bytes; knowledge uploads are limited to {max_bytes} bytes"
        )
    data = objects.read(key, max_bytes=max_bytes + 1)
    if len(data) > max_bytes:
        raise UnusableFileError(f"Knowledge uploads are limited to {max_bytes} bytes")
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnusableFileError("The file is not UTF-8 text (markdown or plain text)") from None
    if "\x00" in content:
        raise UnusableFileError("The file is binary, not markdown or plain text")
    if not content.strip():
        raise UnusableFileError("The file is empty")
    return content


class Uploads(Writer):
    def request_upload(
        self, principal: Principal, body: DocumentUploadRequest
    ) -> DocumentUploadAccepted:
        """A pending document and a presigned form for its file."""
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
            document = new_user_document(session, principal, body, content="")
            document.content_hash, document.size_bytes = "", 0
            document.status, document.chunk_count = DocumentStatus.PENDING.value, 0
            document.version, document.created_at, document.updated_at = 1, now, now
            kb.add_document(session, document)
            audit_document(
                session,
                principal,
                "kb.document.created",
                document.document_id,
                {"scope": document.scope, "title": document.title, "upload": True},
            )
        return DocumentUploadAccepted(
            document=views.out(document, DocumentAccess.MANAGE),
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
