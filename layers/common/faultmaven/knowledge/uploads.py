"""Documents too large to post inline arrive as files in S3: where they are uploaded,
and what makes a file usable as a document."""

from __future__ import annotations

from faultmaven.core.ports import ObjectStore
from faultmaven.core.storage import KNOWLEDGE_UPLOADS
from faultmaven.knowledge.models import ContentType

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
