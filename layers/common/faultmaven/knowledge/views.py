"""What a caller sees of a document: its row and the caller's permission on it."""

from __future__ import annotations

from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.models import DocumentDetail, DocumentOut


def _fields(document: KnowledgeDocument, granted: DocumentAccess) -> dict[str, object]:
    names = DocumentOut.model_fields.keys() - {"my_permission"}
    return {
        **{name: getattr(document, name) for name in names},
        "my_permission": granted.name.lower(),
    }


def out(document: KnowledgeDocument, granted: DocumentAccess) -> DocumentOut:
    return DocumentOut.model_validate(_fields(document, granted))


def detail(document: KnowledgeDocument, granted: DocumentAccess) -> DocumentDetail:
    """The listing fields and the text (listings leave it out)."""
    return DocumentDetail.model_validate(
        {**_fields(document, granted), "content": document.content}
    )
