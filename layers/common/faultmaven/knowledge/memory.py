"""A case's working memory (`core.ports.CaseMemory`): the chunks of its evidence, embedded
and readable by whoever may read the case (their reader token is the case's). Nothing of
it is in PostgreSQL but the evidence rows the search re-checks against."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from faultmaven.core.vectors import ChunkRecord, Scope, case_token
from faultmaven.knowledge.base import ServiceBase


class CaseMemory(ServiceBase):
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
        """Delete the chunks of every document the user owns."""
        return self._vectors.delete(owner_id=user_id)
