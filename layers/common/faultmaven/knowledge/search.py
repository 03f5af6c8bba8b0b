"""Search over whichever knowledge the caller may read: filtered by reader tokens inside
the vector query, then every hit checked against PostgreSQL again, so a stale chunk (a
share revoked while its tokens were being updated, a document deleted while its chunks
were) is never returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from faultmaven.auth.principal import Principal
from faultmaven.cases.access import Access
from faultmaven.core.vectors import Scope, SearchFilter, VectorHit, case_token
from faultmaven.evidence.queries import existing_in_case
from faultmaven.knowledge import access, ranking
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.access import DocumentAccess
from faultmaven.knowledge.base import ServiceBase, index_errors
from faultmaven.knowledge.models import SearchHit, SearchRequest, SearchResponse
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.queries import scopes_in

Mode = Literal["hybrid", "vector", "keyword"]
# Each list is fetched deeper than `k`: fusion and the re-check need room to reorder.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 20


class Search(ServiceBase):
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
            with index_errors():
                vector_hits = self._vectors.search(query_vector, where, depth)
        if mode != "vector":
            with index_errors():
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
            documents = kb.documents_by_id(session, document_ids)
            found = kb.grants_of(session, documents)
            evidence = existing_in_case(
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
