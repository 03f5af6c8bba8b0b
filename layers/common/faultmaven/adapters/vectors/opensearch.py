"""The vector store on OpenSearch: Amazon OpenSearch Serverless on AWS (signed with the
function's role), any self-managed OpenSearch with the k-NN plugin elsewhere.

Access is enforced inside every query by the same `terms` filters on `scope` and
`readers` (see `faultmaven.core.vectors`), so a chunk the caller may not read is never a
candidate; the hits are then re-checked with `SearchFilter.admits` as a second line.

Choices forced by OpenSearch Serverless (AOSS) vector search collections, from the AWS
developer guide, "Working with vector search collections" (serverless-vector-search.html),
limitations of Classic collections:

- "don't support the Apache Lucene ANN engine" and "support only the HNSW algorithm with
  Faiss": the field is HNSW on **faiss**. Faiss also filters *while* searching (efficient
  k-NN filtering, OpenSearch 2.9+ for HNSW; OpenSearch docs, "Efficient k-NN filtering"),
  so a restrictive access filter still yields k results. nmslib only post-filters (fewer
  than k hits, or none, when the caller may read a small part of the index) and is
  deprecated; lucene filters efficiently but is refused by AOSS. Faiss serves the
  cosinesimil space since OpenSearch 2.19 (k-NN pull request #2376, by normalizing the
  vectors and using inner product), so a self-managed server must be 2.19 or later.
- "don't support inline or stored scripts": `set_readers` cannot be an update-by-query
  with a painless script. It pages through the document's chunks and sends partial
  updates by `_id` in bulk instead, which works on every OpenSearch (osmem, the test
  server, refuses scripted update-by-query too).
- Custom document ids: Classic vector collections reject `_id` on index operations
  ("Document ID is not supported in create/index operation request";
  serverless-overview.html: "For time series and vector search collections, you can't
  index by custom document ID or update by upsert requests"). NextGen collections accept
  them ("Custom doc ID – Custom document IDs are supported in NextGen collections").
  With `custom_ids=False` an upsert deletes the chunk ids by query, then indexes with
  server-generated ids.
- No refresh API on AOSS: the collection refreshes on its own (10 s NextGen, 60 s
  Classic), so `refresh=False` there. Until then a write is invisible to search, to
  `count` and to the by-query operations: re-upserting a chunk within that window can
  leave two copies, and `set_readers` cannot see chunks written in it. Self-managed
  servers (and the tests) use `refresh=True` and read their own writes.
- `delete` (and the upsert without custom ids) use `_delete_by_query`. Whether AOSS
  vector collections accept it is not confirmed by the pages above and has not been
  tried against a collection yet: if it is refused, page ids with `_pages_of_ids` and
  delete them in bulk, as `set_readers` updates them.

opensearch-py costs ~0.1 s of import, so it is imported where a client is built or an
error is caught: building the queries needs none of it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from faultmaven.core.clock import utcnow
from faultmaven.core.settings import Settings, SettingsError
from faultmaven.core.vectors import (
    ChunkRecord,
    IndexMismatchError,
    IndexSpec,
    Scope,
    SearchFilter,
    VectorHit,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "EMBEDDING_FIELD",
    "OpenSearchVectorStore",
    "build_filter",
    "chunk_document",
    "cosine_from_knn_score",
    "count_query",
    "delete_query",
    "filter_clauses",
    "hit_from_source",
    "index_body",
    "keyword_query",
    "knn_query",
]

_LOG = logging.getLogger(__name__)

EMBEDDING_FIELD: Final = "embedding"
META_KEY: Final = "faultmaven"
# How many ids one page of `set_readers` reads and updates; well under the default
# `index.max_result_window` (10,000).
PAGE_SIZE: Final = 1000
_KEYWORDS: Final = (
    "chunk_id",
    "document_id",
    "scope",
    "readers",
    "tags",
    "owner_id",
    "case_id",
    "source",
    "heading_path",
)
_ENGLISH_TEXT: Final = {"type": "text", "analyzer": "english"}
MAX_QUERY_WORDS: Final = 32
_QUERY_WORD: Final = re.compile(r"[^\W_]{2,}")
_NO_VECTOR: Final = {"excludes": [EMBEDDING_FIELD]}


# --- Pure query building: the exact bodies sent, checked by the unit tests. -----------


def index_body(spec: IndexSpec) -> dict[str, Any]:
    """The index settings and strict mapping for `spec`. `_meta` records the model and
    dimension, because vectors of two models are not comparable and the index must
    refuse any other embedder. The mapping is strict so a typo in a field name fails the
    write instead of adding an unfiltered, unmapped field."""
    properties: dict[str, Any] = {
        EMBEDDING_FIELD: {
            "type": "knn_vector",
            "dimension": spec.dimension,
            "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "faiss"},
        },
        **{name: {"type": "keyword"} for name in _KEYWORDS},
        "text": dict(_ENGLISH_TEXT),
        "title": dict(_ENGLISH_TEXT),
        # The heading path as text, so keyword search finds words of section titles.
        "headings": dict(_ENGLISH_TEXT),
        "ordinal": {"type": "integer"},
        "indexed_at": {"type": "date"},
    }
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic": "strict",
            "_meta": {META_KEY: {"model": spec.model, "dimension": spec.dimension}},
            "properties": properties,
        },
    }


def filter_clauses(where: SearchFilter) -> list[dict[str, Any]]:
    """The access predicate as filter clauses (every clause must hold). Values are sorted
    so the same filter always produces the same body (cache-friendly, testable)."""
    clauses: list[dict[str, Any]] = [
        {"terms": {"scope": sorted(scope.value for scope in where.scopes)}},
        {"terms": {"readers": sorted(where.readers)}},
    ]
    if where.document_ids:
        clauses.append({"terms": {"document_id": sorted(where.document_ids)}})
    if where.tags:
        clauses.append({"terms": {"tags": sorted(where.tags)}})
    return clauses


def build_filter(where: SearchFilter) -> dict[str, Any]:
    return {"bool": {"filter": filter_clauses(where)}}


def knn_query(vector: Sequence[float], where: SearchFilter, k: int) -> dict[str, Any]:
    """Approximate k-NN with the filter *inside* the knn clause (efficient filtering), not
    beside it in a bool: a bool post-filter would rank the k nearest of the whole index
    and then drop the unreadable ones, returning fewer than k, or none."""
    return {
        "size": k,
        "_source": dict(_NO_VECTOR),
        "query": {
            "knn": {
                EMBEDDING_FIELD: {
                    "vector": [float(value) for value in vector],
                    "k": k,
                    "filter": build_filter(where),
                }
            }
        },
    }


def keyword_query(text: str, where: SearchFilter, k: int) -> dict[str, Any]:
    """BM25 over the body and the title, the title counting double: a title match says
    more about what a chunk is about than one word in its body. At most the first
    MAX_QUERY_WORDS words: a pasted stack trace would otherwise pass OpenSearch's limit
    of 1,024 clauses (three fields per word)."""
    text = " ".join(_QUERY_WORD.findall(text)[:MAX_QUERY_WORDS])
    return {
        "size": k,
        "_source": dict(_NO_VECTOR),
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": text,
                            "fields": ["text^1", "title^2", "headings^1.5"],
                        }
                    }
                ],
                "filter": filter_clauses(where),
            }
        },
    }


def delete_query(
    *,
    document_id: str | None = None,
    case_id: str | None = None,
    owner_id: str | None = None,
    indexed_before: datetime | None = None,
) -> dict[str, Any]:
    if document_id is None and case_id is None and owner_id is None:
        # Without one of these a call could empty the whole index.
        raise ValueError("delete needs a document_id, case_id or owner_id")
    clauses = _term_clauses(document_id=document_id, case_id=case_id, owner_id=owner_id)
    if indexed_before is not None:
        clauses.append({"range": {"indexed_at": {"lt": _timestamp(indexed_before)}}})
    return {"query": {"bool": {"filter": clauses}}}


def count_query(*, document_id: str | None = None, case_id: str | None = None) -> dict[str, Any]:
    clauses = _term_clauses(document_id=document_id, case_id=case_id)
    return {"query": {"bool": {"filter": clauses}}} if clauses else {"query": {"match_all": {}}}


def chunk_document(chunk: ChunkRecord, indexed_at: datetime) -> dict[str, Any]:
    """The stored `_source` of a chunk. Lists are sorted where order carries no meaning
    (reader tokens), kept where it does (heading path, tags as given)."""
    return {
        "chunk_id": chunk.chunk_id,
        "document_id": chunk.document_id,
        "scope": chunk.scope.value,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "title": chunk.title,
        "heading_path": list(chunk.heading_path),
        "headings": " ".join(chunk.heading_path),
        "source": chunk.source,
        "tags": list(chunk.tags),
        "owner_id": chunk.owner_id,
        "case_id": chunk.case_id,
        "readers": sorted(chunk.readers),
        EMBEDDING_FIELD: [float(value) for value in chunk.embedding],
        "indexed_at": _timestamp(indexed_at),
    }


def cosine_from_knn_score(score: float) -> float:
    """OpenSearch scores the cosinesimil space as (2 - d) / 2 with d = 1 - cos, that is
    (1 + cos) / 2 (OpenSearch docs, k-NN vector "Spaces"), the same for every engine.
    Inverting it gives the cosine similarity the pgvector adapter returns, so scores of
    the two backends are comparable."""
    return 2.0 * score - 1.0


def _term_clauses(**values: str | None) -> list[dict[str, Any]]:
    return [{"term": {field: value}} for field, value in values.items() if value is not None]


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        # A naive datetime would be read as UTC by OpenSearch but as local time by
        # whoever wrote it: refuse it rather than shift a retention cut-off by hours.
        raise ValueError("timestamps must be timezone-aware")
    return moment.isoformat()


def hit_from_source(source: Mapping[str, Any], score: float) -> VectorHit:
    indexed_at = source.get("indexed_at")
    return VectorHit(
        chunk_id=str(source["chunk_id"]),
        document_id=str(source["document_id"]),
        scope=Scope(source["scope"]),
        ordinal=int(source["ordinal"]),
        text=str(source.get("text", "")),
        score=score,
        readers=frozenset(source.get("readers") or ()),
        title=str(source.get("title") or ""),
        heading_path=tuple(source.get("heading_path") or ()),
        source=str(source.get("source") or ""),
        tags=tuple(source.get("tags") or ()),
        owner_id=source.get("owner_id"),
        case_id=source.get("case_id"),
        indexed_at=datetime.fromisoformat(indexed_at) if indexed_at else None,
    )


# --- The adapter. ----------------------------------------------------------------------


class OpenSearchVectorStore:
    """`VectorStore` on one OpenSearch index.

    `refresh`: make every write visible to search before returning (self-managed
    servers; AOSS has no refresh). `custom_ids`: store a chunk under `_id = chunk_id`, so
    an upsert replaces it atomically; off for AOSS Classic vector collections, which
    generate ids themselves.
    """

    def __init__(
        self,
        client: OpenSearch,
        index: str,
        *,
        refresh: bool = True,
        custom_ids: bool = True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._index = index
        self._refresh = refresh
        self._custom_ids = custom_ids
        self._clock = clock
        self._spec: IndexSpec | None = None

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        index: str,
        region: str | None = None,
        sigv4: bool = False,
        custom_ids: bool | None = None,
        timeout_seconds: float = 10.0,
    ) -> OpenSearchVectorStore:
        """A store over a new client. With `sigv4` the URL is an OpenSearch Serverless
        collection endpoint: requests are signed for the `aoss` service with the ambient
        AWS credentials (the function's role on Lambda; refreshed credentials are picked
        up because the signer freezes them per request), over verified TLS."""
        from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth, Urllib3HttpConnection

        if not sigv4:
            client = OpenSearch(hosts=[url], timeout=timeout_seconds)
            return cls(client, index, custom_ids=True if custom_ids is None else custom_ids)
        if not url.startswith("https://"):
            raise ValueError("a signed OpenSearch Serverless endpoint must be an https:// URL")
        import boto3

        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found to sign OpenSearch requests")
        region = region or session.region_name
        if not region:
            raise ValueError("an AWS region is required to sign OpenSearch requests")
        client = OpenSearch(
            hosts=[url],
            http_auth=Urllib3AWSV4SignerAuth(credentials, region, "aoss"),
            use_ssl=True,
            verify_certs=True,
            connection_class=Urllib3HttpConnection,
            timeout=timeout_seconds,
        )
        # Server-generated ids by default: they work on Classic and NextGen collections.
        return cls(
            client, index, refresh=False, custom_ids=False if custom_ids is None else custom_ids
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenSearchVectorStore:
        if settings.opensearch_url is None:
            raise SettingsError("FAULTMAVEN_OPENSEARCH_URL (or OPENSEARCH_URL) is not set")
        return cls.connect(
            settings.opensearch_url,
            index=settings.opensearch_index,
            region=settings.aws_region,
            sigv4=settings.opensearch_sigv4,
        )

    @property
    def index(self) -> str:
        return self._index

    # --- VectorStore ---------------------------------------------------------------

    def ensure(self, spec: IndexSpec) -> None:
        from opensearchpy.exceptions import RequestError

        if self._spec == spec:
            return
        recorded = self._recorded_spec()
        if recorded is None:
            try:
                self._client.indices.create(index=self._index, body=index_body(spec))
            except RequestError as exc:
                # Another process created it between our read and our create: fine, as
                # long as it was created for the same spec (checked below).
                if exc.error != "resource_already_exists_exception":
                    raise
                recorded = self._recorded_spec()
            else:
                recorded = spec
        if recorded != spec:
            raise IndexMismatchError(
                f"index {self._index!r} holds vectors of {recorded}, not {spec}: "
                "re-index into a new index to change the embedding model"
            )
        self._spec = spec

    def upsert(self, chunks: Sequence[ChunkRecord]) -> None:
        if not chunks:
            return
        dimension = self._dimension()
        if dimension is None:
            raise IndexMismatchError(f"index {self._index!r} does not exist: ensure() it first")
        for chunk in chunks:
            if len(chunk.embedding) != dimension:
                raise IndexMismatchError(
                    f"chunk {chunk.chunk_id!r} has a {len(chunk.embedding)}-dimensional "
                    f"vector; index {self._index!r} holds {dimension} dimensions"
                )
        # The last copy of a chunk given twice wins, as it would by `_id`; without custom
        # ids both copies would otherwise be stored.
        latest = {chunk.chunk_id: chunk for chunk in chunks}
        indexed_at = self._clock()
        if not self._custom_ids:
            # No `_id` to overwrite: remove earlier copies of these chunks first.
            self._client.delete_by_query(
                index=self._index,
                body={"query": {"bool": {"filter": [{"terms": {"chunk_id": sorted(latest)}}]}}},
                **self._write_params(),
            )
        self._bulk(self._index_action(chunk, indexed_at) for chunk in latest.values())

    def set_readers(self, document_id: str, readers: frozenset[str]) -> int:
        new_readers = sorted(readers)
        updated = 0
        for ids in self._pages_of_ids(
            {"bool": {"filter": [{"term": {"document_id": document_id}}]}}
        ):
            updated += self._bulk(
                (
                    {
                        "_op_type": "update",
                        "_index": self._index,
                        "_id": doc_id,
                        "doc": {"readers": new_readers},
                    }
                    for doc_id in ids
                ),
                # A chunk deleted since the page was read has nothing left to update.
                ignore_status=(404,),
            )
        return updated

    def delete(
        self,
        *,
        document_id: str | None = None,
        case_id: str | None = None,
        owner_id: str | None = None,
        indexed_before: datetime | None = None,
    ) -> int:
        from opensearchpy.exceptions import NotFoundError

        body = delete_query(
            document_id=document_id,
            case_id=case_id,
            owner_id=owner_id,
            indexed_before=indexed_before,
        )
        try:
            # Conflicts abort (the default): a chunk rewritten during the delete must not
            # be silently kept; the caller's next sweep retries.
            response = self._client.delete_by_query(
                index=self._index, body=body, **self._write_params()
            )
        except NotFoundError as exc:
            if _index_missing(exc):
                return 0
            raise
        return int(response.get("deleted", 0))

    def count(self, *, document_id: str | None = None, case_id: str | None = None) -> int:
        from opensearchpy.exceptions import NotFoundError

        body = count_query(document_id=document_id, case_id=case_id)
        try:
            response = self._client.count(index=self._index, body=body)
        except NotFoundError as exc:
            if _index_missing(exc):
                return 0
            raise
        return int(response["count"])

    def search(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[VectorHit]:
        if k <= 0 or not where.scopes or not where.readers:
            return []
        dimension = self._dimension()
        if dimension is None:
            return []  # no index yet, so nothing to find
        if len(vector) != dimension:
            raise IndexMismatchError(
                f"a {len(vector)}-dimensional query vector cannot search index "
                f"{self._index!r} of {dimension} dimensions"
            )
        return self._hits(knn_query(vector, where, k), where, cosine_from_knn_score)

    def keyword_search(self, text: str, where: SearchFilter, k: int) -> list[VectorHit]:
        if k <= 0 or not _QUERY_WORD.search(text) or not where.scopes or not where.readers:
            return []
        return self._hits(keyword_query(text, where, k), where, float)

    # --- Internals ------------------------------------------------------------------

    def _write_params(self) -> dict[str, Any]:
        return {"refresh": "true"} if self._refresh else {}

    def _index_action(self, chunk: ChunkRecord, indexed_at: datetime) -> dict[str, Any]:
        action: dict[str, Any] = {
            "_op_type": "index",
            "_index": self._index,
            "_source": chunk_document(chunk, indexed_at),
        }
        if self._custom_ids:
            action["_id"] = chunk.chunk_id
        return action

    def _bulk(
        self, actions: Iterator[dict[str, Any]], *, ignore_status: tuple[int, ...] = ()
    ) -> int:
        """Send actions in bulk; any failed item raises `BulkIndexError` (a half-written
        batch must not look like a success). Returns how many items succeeded."""
        from opensearchpy import helpers

        succeeded, _ = helpers.bulk(
            self._client,
            actions,
            ignore_status=ignore_status,
            **self._write_params(),
        )
        return int(succeeded)

    def _pages_of_ids(self, query: dict[str, Any]) -> Iterator[list[str]]:
        """The `_id`s matching `query`, a page at a time. `search_after` on a sort that
        does not change while we update (`chunk_id`, then `indexed_at` to separate the
        transient duplicates a server-generated id can leave) avoids the result window
        cap and needs no scroll context."""
        from opensearchpy.exceptions import NotFoundError

        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": PAGE_SIZE,
                "_source": False,
                "query": query,
                "sort": [{"chunk_id": "asc"}, {"indexed_at": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            try:
                response = self._client.search(index=self._index, body=body)
            except NotFoundError as exc:
                if _index_missing(exc):
                    return
                raise
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield [str(hit["_id"]) for hit in hits]
            if len(hits) < PAGE_SIZE:
                return
            after = list(hits[-1]["sort"])

    def _hits(
        self, body: dict[str, Any], where: SearchFilter, score: Callable[[float], float]
    ) -> list[VectorHit]:
        from opensearchpy.exceptions import NotFoundError

        try:
            response = self._client.search(index=self._index, body=body)
        except NotFoundError as exc:
            if _index_missing(exc):
                return []
            raise
        hits: list[VectorHit] = []
        for raw in response["hits"]["hits"]:
            hit = hit_from_source(raw["_source"], score(float(raw["_score"])))
            if where.admits(hit):
                hits.append(hit)
            else:
                # The query's own filter should have excluded it: a mapping or query bug
                # that would otherwise leak a chunk. Drop it and make it visible.
                _LOG.error(
                    "OpenSearch returned a chunk outside the search filter; dropped",
                    extra={"chunk_id": hit.chunk_id, "index": self._index},
                )
        return hits

    def _dimension(self) -> int | None:
        if self._spec is None:
            self._spec = self._recorded_spec()
        return None if self._spec is None else self._spec.dimension

    def _recorded_spec(self) -> IndexSpec | None:
        """The spec recorded in the index's `_meta`, None when there is no index. An index
        without it (created by hand or by another tool), or whose vector field disagrees
        with it, is not trusted."""
        from opensearchpy.exceptions import NotFoundError

        try:
            response = self._client.indices.get_mapping(index=self._index)
        except NotFoundError as exc:
            if _index_missing(exc):
                return None
            raise
        # Keyed by the concrete index name, which differs from ours behind an alias.
        entries: list[Mapping[str, Any]] = list(response.values())
        mappings: Mapping[str, Any] = entries[0].get("mappings", {}) if entries else {}
        meta = (mappings.get("_meta") or {}).get(META_KEY) or {}
        field = (mappings.get("properties") or {}).get(EMBEDDING_FIELD) or {}
        model, dimension = meta.get("model"), meta.get("dimension")
        if not isinstance(model, str) or not isinstance(dimension, int):
            raise IndexMismatchError(
                f"index {self._index!r} records no embedding model in its mapping's _meta"
            )
        if field.get("type") != "knn_vector" or field.get("dimension") != dimension:
            raise IndexMismatchError(
                f"index {self._index!r}: its {EMBEDDING_FIELD!r} field does not match "
                f"the recorded dimension {dimension}"
            )
        return IndexSpec(model=model, dimension=dimension)


def _index_missing(exc: Exception) -> bool:
    """A missing index holds no chunks: counting, deleting or searching it is not an
    error (retention may sweep before anything was ever indexed)."""
    return getattr(exc, "error", None) == "index_not_found_exception"
