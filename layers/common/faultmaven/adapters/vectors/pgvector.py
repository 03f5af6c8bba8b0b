"""The pgvector backend: chunks in the application's PostgreSQL (pgserver locally, Aurora
when the `vectorStore=pgvector` context is deployed).

`vector_chunks.embedding` has no fixed dimension, so one migrated schema serves whichever
model is configured; `ensure` records the model and dimension in `vector_index` and builds
an HNSW expression index on `embedding::vector(n)` (cosine). Every query casts the same
way, so the planner can use that index.

Access filtering happens in the WHERE clause. An HNSW scan filters *after* it has found
`ef_search` candidates, so `ef_search` grows with `k` (`ef_search_for`: a filter
admitting a seventh of the rows still leaves ~3k candidates), and when a selective filter
leaves fewer
than `k` rows anyway the query is repeated as an exact scan over the rows it admits
(found through the GIN index on `readers`), which is what a selective filter makes cheap.
pgvector 0.8's iterative scans (Aurora has them; pgserver's 0.6 has not) would do the
same inside the index.

Two settings keep the index in use (measured in benchmarks/vector_search.py):
`plan_cache_mode = force_custom_plan` for each search, because psycopg prepares a
statement after five runs and PostgreSQL may then cache a generic plan, which knows
neither the query vector nor the LIMIT and never picks HNSW; and `embedding` stored
PLAIN (migration 0005), so an exact scan reads vectors from the table's own pages
instead of fetching each from TOAST.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import Select, bindparam, cast, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from faultmaven.adapters.postgres import Database
from faultmaven.core.clock import utcnow
from faultmaven.core.vectors import (
    ChunkRecord,
    IndexMismatchError,
    IndexSpec,
    Scope,
    SearchFilter,
    VectorHit,
)
from faultmaven.db.tables import VectorChunk, VectorIndex

INDEX_NAME = "default"
# HNSW build: pgvector's default graph (ef_construction 64) recalls noticeably less on
# dense corpora; 200 costs ~1.7x the build time. The build gets memory for the graph.
HNSW_WITH = "m = 16, ef_construction = 200"
BUILD_MEMORY = "512MB"
MAX_EF_SEARCH = 1000  # pgvector's limit
# Candidates the HNSW scan gathers per result asked for: a filter admitting a seventh of
# the rows still leaves ~3k admitted candidates (benchmarks/vector_search.py: recall@10
# 0.94 at ef 100, 0.97 at 200, 0.98 at 400 under a typical user's filter, 100k chunks).
EF_PER_RESULT = 20
DEFAULT_EF_SEARCH = 200


def ef_search_for(k: int, floor: int = DEFAULT_EF_SEARCH) -> int:
    """The hnsw.ef_search a search for `k` results runs with."""
    return min(MAX_EF_SEARCH, max(floor, EF_PER_RESULT * k))


_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
_MAX_QUERY_WORDS = 32


class PgVectorStore:
    def __init__(self, database: Database, *, ef_search: int = DEFAULT_EF_SEARCH) -> None:
        self._db = database
        self._ef_search = ef_search
        self._spec: IndexSpec | None = None
        self._lock = threading.Lock()

    def ensure(self, spec: IndexSpec) -> None:
        if self._spec == spec:
            return
        with self._lock, self._db.session() as session:
            # One writer decides the spec, even when several processes start together.
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('vector_index'))"))
            existing = session.get(VectorIndex, INDEX_NAME)
            if existing is None:
                session.add(
                    VectorIndex(
                        name=INDEX_NAME,
                        model=spec.model,
                        dimension=spec.dimension,
                        created_at=utcnow(),
                    )
                )
            elif (existing.model, existing.dimension) != (spec.model, spec.dimension):
                raise IndexMismatchError(
                    f"the vector index holds {existing.model} ({existing.dimension} dimensions); "
                    f"the embedder is {spec.model} ({spec.dimension}). Re-index to switch models."
                )
            dimension = int(spec.dimension)
            session.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
            session.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS ix_vector_chunks_hnsw_{dimension} "
                    f"ON vector_chunks USING hnsw ((embedding::vector({dimension})) "
                    f"vector_cosine_ops) WITH ({HNSW_WITH})"
                )
            )
        self._spec = spec

    @property
    def spec(self) -> IndexSpec:
        if self._spec is None:
            raise RuntimeError("ensure() the index before using it")
        return self._spec

    def upsert(self, chunks: Sequence[ChunkRecord]) -> None:
        if not chunks:
            return
        dimension = self.spec.dimension
        now = utcnow()
        rows = []
        for chunk in chunks:
            if len(chunk.embedding) != dimension:
                raise IndexMismatchError(
                    f"chunk {chunk.chunk_id} has {len(chunk.embedding)} dimensions, "
                    f"the index {dimension}"
                )
            rows.append(
                {
                    "chunk_id": chunk.chunk_id,
                    "document_id": chunk.document_id,
                    "scope": chunk.scope.value,
                    "ordinal": chunk.ordinal,
                    "title": chunk.title[:200],
                    "heading_path": list(chunk.heading_path),
                    "headings": " ".join(chunk.heading_path),
                    "source": chunk.source,
                    "tags": list(chunk.tags),
                    "owner_id": chunk.owner_id,
                    "case_id": chunk.case_id,
                    "readers": sorted(chunk.readers),
                    "text": chunk.text,
                    "embedding": list(chunk.embedding),
                    "indexed_at": now,
                }
            )
        statement = insert(VectorChunk)
        replaced = {
            name: statement.excluded[name]
            for name in rows[0]
            if name != "chunk_id"  # the key itself
        }
        with self._db.session() as session:
            for start in range(0, len(rows), 500):
                session.execute(
                    statement.on_conflict_do_update(index_elements=["chunk_id"], set_=replaced),
                    rows[start : start + 500],
                )

    def set_readers(self, document_id: str, readers: frozenset[str]) -> int:
        with self._db.session() as session:
            result = session.execute(
                update(VectorChunk)
                .where(VectorChunk.document_id == document_id)
                .values(readers=sorted(readers))
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def delete(
        self,
        *,
        document_id: str | None = None,
        case_id: str | None = None,
        owner_id: str | None = None,
        indexed_before: datetime | None = None,
    ) -> int:
        if document_id is None and case_id is None and owner_id is None:
            raise ValueError("delete needs a document, a case or an owner")
        statement = delete(VectorChunk)
        if document_id is not None:
            statement = statement.where(VectorChunk.document_id == document_id)
        if case_id is not None:
            statement = statement.where(VectorChunk.case_id == case_id)
        if owner_id is not None:
            statement = statement.where(VectorChunk.owner_id == owner_id)
        if indexed_before is not None:
            statement = statement.where(VectorChunk.indexed_at < indexed_before)
        with self._db.session() as session:
            return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]

    def count(self, *, document_id: str | None = None, case_id: str | None = None) -> int:
        statement = select(func.count()).select_from(VectorChunk)
        if document_id is not None:
            statement = statement.where(VectorChunk.document_id == document_id)
        if case_id is not None:
            statement = statement.where(VectorChunk.case_id == case_id)
        with self._db.session() as session:
            return int(session.execute(statement).scalar_one())

    def search(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[VectorHit]:
        dimension = self.spec.dimension
        if len(vector) != dimension:
            raise IndexMismatchError(
                f"the query has {len(vector)} dimensions, the index {dimension}"
            )
        if not where.scopes or not where.readers:
            return []
        distance = _distance(dimension, vector)
        statement = _filtered(where, (1 - distance).label("score")).order_by(distance).limit(k)
        ef_search = ef_search_for(k, self._ef_search)
        with self._db.session() as session:
            session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            session.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
            rows = session.execute(statement).all()
            if len(rows) < k:
                # The ANN candidates ran out under the filter: search the admitted rows
                # exactly instead (see the module docstring).
                session.execute(text("SET LOCAL enable_indexscan = off"))
                rows = session.execute(statement).all()
        return _hits(rows, where)

    def keyword_search(self, text_query: str, where: SearchFilter, k: int) -> list[VectorHit]:
        words = _WORD.findall(text_query.lower())[:_MAX_QUERY_WORDS]
        if not words or not where.scopes or not where.readers:
            return []
        # Any word may match (OR), ranked by cover density: questions are written in
        # other words than the answer, so requiring every word would find almost nothing.
        query = func.to_tsquery("english", " | ".join(dict.fromkeys(words)))
        rank = func.ts_rank_cd(VectorChunk.search, query, 32).label("score")
        statement = (
            _filtered(where, rank)
            .where(VectorChunk.search.op("@@")(query))
            .order_by(rank.desc(), VectorChunk.chunk_id)
            .limit(k)
        )
        with self._db.session() as session:
            rows = session.execute(statement).all()
        return _hits(rows, where)


def _distance(dimension: int, vector: Sequence[float]) -> Any:
    """Cosine distance in exactly the form the HNSW expression index is built on
    (`CAST(embedding AS vector(n))` is the same expression as `embedding::vector(n)`)."""
    typed = Vector(dimension)
    query = cast(bindparam("query", [float(x) for x in vector], type_=typed), typed)
    return cast(VectorChunk.embedding, typed).cosine_distance(query)


_COLUMNS = (
    VectorChunk.chunk_id,
    VectorChunk.document_id,
    VectorChunk.scope,
    VectorChunk.ordinal,
    VectorChunk.text,
    VectorChunk.readers,
    VectorChunk.title,
    VectorChunk.heading_path,
    VectorChunk.source,
    VectorChunk.tags,
    VectorChunk.owner_id,
    VectorChunk.case_id,
    VectorChunk.indexed_at,
)


def _filtered(where: SearchFilter, score: Any) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = select(*_COLUMNS, score).where(
        VectorChunk.scope.in_(sorted(s.value for s in where.scopes)),
        VectorChunk.readers.overlap(sorted(where.readers)),
    )
    if where.document_ids:
        statement = statement.where(VectorChunk.document_id.in_(sorted(where.document_ids)))
    if where.tags:
        statement = statement.where(VectorChunk.tags.overlap(sorted(where.tags)))
    return statement


def _hits(rows: Sequence[Any], where: SearchFilter) -> list[VectorHit]:
    hits = [
        VectorHit(
            chunk_id=row.chunk_id,
            document_id=row.document_id,
            scope=Scope(row.scope),
            ordinal=row.ordinal,
            text=row.text,
            score=float(row.score),
            readers=frozenset(row.readers),
            title=row.title,
            heading_path=tuple(row.heading_path),
            source=row.source,
            tags=tuple(row.tags),
            owner_id=row.owner_id,
            case_id=row.case_id,
            indexed_at=row.indexed_at,
        )
        for row in rows
    ]
    # Defence in depth: the WHERE clause already admitted exactly these.
    return [hit for hit in hits if where.admits(hit)]
