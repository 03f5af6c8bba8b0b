"""A document's chunks and the records the vector store keeps for them."""

from __future__ import annotations

from collections.abc import Sequence

from faultmaven.core.vectors import ChunkRecord, Scope
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge.chunking import Chunk, chunk_markdown, chunk_plain
from faultmaven.knowledge.models import ContentType


def chunk_document(document: KnowledgeDocument) -> list[Chunk]:
    if document.content_type == ContentType.PLAIN.value:
        return chunk_plain(document.content, title=document.title)
    return chunk_markdown(document.content, title=document.title)


def chunk_records(
    document: KnowledgeDocument,
    chunks: Sequence[Chunk],
    vectors: Sequence[Sequence[float]],
    readers: frozenset[str],
) -> list[ChunkRecord]:
    scope = Scope(document.scope)
    return [
        ChunkRecord(
            chunk_id=f"{document.document_id}-{chunk.ordinal}",
            document_id=document.document_id,
            scope=scope,
            ordinal=chunk.ordinal,
            text=chunk.text,
            embedding=vector,
            readers=readers,
            title=document.title,
            heading_path=chunk.heading_path,
            source=f"kb:{document.slug}" if document.slug else f"kb:{document.document_id}",
            tags=tuple(document.tags),
            owner_id=document.owner_id if scope is Scope.USER else None,
        )
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]
