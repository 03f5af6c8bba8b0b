"""The exact bodies the OpenSearch vector store sends, and the decisions it takes around
them, checked without a server (a stub client records what would be sent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth
from opensearchpy.exceptions import NotFoundError, RequestError

from faultmaven.adapters.vectors import opensearch as module
from faultmaven.adapters.vectors.opensearch import (
    OpenSearchVectorStore,
    build_filter,
    chunk_document,
    cosine_from_knn_score,
    count_query,
    delete_query,
    index_body,
    keyword_query,
    knn_query,
)
from faultmaven.core.settings import SettingsError, load_settings
from faultmaven.core.vectors import (
    ChunkRecord,
    IndexMismatchError,
    IndexSpec,
    Scope,
    SearchFilter,
    VectorHit,
)

SPEC = IndexSpec(model="all-MiniLM-L6-v2", dimension=3)
WHERE = SearchFilter(
    scopes=frozenset({Scope.USER, Scope.GLOBAL}), readers=frozenset({"user:u1", "*", "team:t1"})
)
NARROW = SearchFilter(
    scopes=frozenset({Scope.CASE}),
    readers=frozenset({"case:k1"}),
    document_ids=frozenset({"doc-2", "doc-1"}),
    tags=frozenset({"net", "db"}),
)
NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- query bodies ------------------------------------------------------------------


def test_the_filter_names_scopes_and_readers_sorted() -> None:
    assert build_filter(WHERE) == {
        "bool": {
            "filter": [
                {"terms": {"scope": ["global", "user"]}},
                {"terms": {"readers": ["*", "team:t1", "user:u1"]}},
            ]
        }
    }


def test_the_filter_narrows_to_documents_and_tags_when_given() -> None:
    assert build_filter(NARROW) == {
        "bool": {
            "filter": [
                {"terms": {"scope": ["case"]}},
                {"terms": {"readers": ["case:k1"]}},
                {"terms": {"document_id": ["doc-1", "doc-2"]}},
                {"terms": {"tags": ["db", "net"]}},
            ]
        }
    }


def test_knn_query_filters_inside_the_knn_clause_and_leaves_the_vector_out() -> None:
    assert knn_query([0.1, 0.2, 0.3], NARROW, 5) == {
        "size": 5,
        "_source": {"excludes": ["embedding"]},
        "query": {
            "knn": {
                "embedding": {
                    "vector": [0.1, 0.2, 0.3],
                    "k": 5,
                    "filter": build_filter(NARROW),
                }
            }
        },
    }


def test_keyword_query_weighs_the_title_double_under_the_same_filter() -> None:
    assert keyword_query("disk full", WHERE, 7) == {
        "size": 7,
        "_source": {"excludes": ["embedding"]},
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": "disk full",
                            "fields": ["text^1", "title^2", "headings^1.5"],
                        }
                    }
                ],
                "filter": [
                    {"terms": {"scope": ["global", "user"]}},
                    {"terms": {"readers": ["*", "team:t1", "user:u1"]}},
                ],
            }
        },
    }


def test_the_index_is_knn_with_a_strict_mapping_recording_the_spec() -> None:
    keyword = {"type": "keyword"}
    english = {"type": "text", "analyzer": "english"}
    assert index_body(SPEC) == {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic": "strict",
            "_meta": {"faultmaven": {"model": "all-MiniLM-L6-v2", "dimension": 3}},
            "properties": {
                "embedding": {
                    "type": "knn_vector",
                    "dimension": 3,
                    "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "faiss"},
                },
                "chunk_id": keyword,
                "document_id": keyword,
                "scope": keyword,
                "readers": keyword,
                "tags": keyword,
                "owner_id": keyword,
                "case_id": keyword,
                "source": keyword,
                "heading_path": keyword,
                "text": english,
                "title": english,
                "headings": english,
                "ordinal": {"type": "integer"},
                "indexed_at": {"type": "date"},
            },
        },
    }


def test_delete_query_ands_every_given_criterion() -> None:
    assert delete_query(document_id="doc-1") == {
        "query": {"bool": {"filter": [{"term": {"document_id": "doc-1"}}]}}
    }
    assert delete_query(
        case_id="k1",
        owner_id="u1",
        indexed_before=datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
    ) == {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"case_id": "k1"}},
                    {"term": {"owner_id": "u1"}},
                    {"range": {"indexed_at": {"lt": "2026-03-01T13:00:00+01:00"}}},
                ]
            }
        }
    }


@pytest.mark.parametrize(
    "criteria",
    [{}, {"indexed_before": NOON}],
    ids=["nothing", "only-a-time"],
)
def test_delete_needs_a_document_case_or_owner(criteria: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="document_id, case_id or owner_id"):
        delete_query(**criteria)


def test_a_naive_cutoff_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        delete_query(owner_id="u1", indexed_before=datetime(2026, 3, 1, 12, 0))


def test_count_query() -> None:
    assert count_query() == {"query": {"match_all": {}}}
    assert count_query(document_id="d", case_id="k") == {
        "query": {"bool": {"filter": [{"term": {"document_id": "d"}}, {"term": {"case_id": "k"}}]}}
    }


def test_a_chunk_is_stored_with_its_vector_and_sorted_readers() -> None:
    record = ChunkRecord(
        chunk_id="c1",
        document_id="doc-1",
        scope=Scope.CASE,
        ordinal=2,
        text="disk full",
        embedding=(1, 0.5, 0),
        readers=frozenset({"user:u1", "case:k1"}),
        title="Disk",
        heading_path=("Storage", "Disks"),
        source="runbook.md",
        tags=("storage",),
        owner_id="u1",
        case_id="k1",
    )
    assert chunk_document(record, NOON) == {
        "chunk_id": "c1",
        "document_id": "doc-1",
        "scope": "case",
        "ordinal": 2,
        "text": "disk full",
        "title": "Disk",
        "heading_path": ["Storage", "Disks"],
        "headings": "Storage Disks",
        "source": "runbook.md",
        "tags": ["storage"],
        "owner_id": "u1",
        "case_id": "k1",
        "readers": ["case:k1", "user:u1"],
        "embedding": [1.0, 0.5, 0.0],
        "indexed_at": "2026-03-01T12:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("score", "cosine"),
    [(1.0, 1.0), (0.75, 0.5), (0.5, 0.0), (0.2, -0.6), (0.0, -1.0)],
)
def test_knn_scores_convert_back_to_cosine_similarity(score: float, cosine: float) -> None:
    assert cosine_from_knn_score(score) == pytest.approx(cosine)


# --- the store around a stub client ---------------------------------------------------


def _not_found() -> NotFoundError:
    return NotFoundError(404, "index_not_found_exception", {})


class StubIndices:
    def __init__(self, owner: StubClient) -> None:
        self._owner = owner

    def get_mapping(self, index: str) -> dict[str, Any]:
        self._owner.calls.append("get_mapping")
        mapping = self._owner.mappings.pop(0) if self._owner.mappings else None
        if isinstance(mapping, Exception):
            raise mapping
        if mapping is None:
            raise _not_found()
        return {index: {"mappings": mapping}}

    def create(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self._owner.calls.append("create")
        if self._owner.create_error is not None:
            raise self._owner.create_error
        return {"acknowledged": True}


class StubClient:
    """Answers what a test scripts and records which calls were made."""

    def __init__(
        self,
        *,
        mappings: list[Any] | None = None,
        hits: list[dict[str, Any]] | None = None,
        create_error: Exception | None = None,
    ) -> None:
        self.calls: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.mappings = list(mappings or [])
        self.hits = hits or []
        self.create_error = create_error
        self.indices = StubIndices(self)

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("search")
        self.bodies.append(body)
        return {"hits": {"hits": self.hits}}

    def bulk(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("bulk")
        return {"errors": False, "items": []}


def _store(client: StubClient, **options: Any) -> OpenSearchVectorStore:
    return OpenSearchVectorStore(cast(OpenSearch, client), "chunks", **options)


def _source(chunk_id: str, readers: list[str], scope: str = "user") -> dict[str, Any]:
    return {
        "chunk_id": chunk_id,
        "document_id": "doc-1",
        "scope": scope,
        "ordinal": 0,
        "text": "disk full",
        "title": "",
        "heading_path": [],
        "headings": "",
        "source": "",
        "tags": [],
        "owner_id": None,
        "case_id": None,
        "readers": readers,
        "indexed_at": "2026-03-01T12:00:00+00:00",
    }


def test_search_converts_scores_and_drops_hits_the_filter_would_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = StubClient(
        mappings=[index_body(SPEC)["mappings"]],
        hits=[
            {"_score": 0.9, "_source": _source("mine", ["user:u1"])},
            {"_score": 0.8, "_source": _source("someone-elses", ["user:u2"])},
            {"_score": 0.7, "_source": _source("wrong-scope", ["*"], scope="case")},
        ],
    )
    dropped: list[dict[str, Any]] = []
    monkeypatch.setattr(module._LOG, "error", lambda message, **kw: dropped.append(kw["extra"]))

    hits = _store(client).search([1.0, 0.0, 0.0], WHERE, 3)

    assert [hit.score for hit in hits] == pytest.approx([0.8])  # (1 + cos) / 2 = 0.9
    assert [replace(hit, score=0.0) for hit in hits] == [
        VectorHit(
            chunk_id="mine",
            document_id="doc-1",
            scope=Scope.USER,
            ordinal=0,
            text="disk full",
            score=0.0,
            readers=frozenset({"user:u1"}),
        )
    ]
    assert hits[0].indexed_at == NOON
    assert [extra["chunk_id"] for extra in dropped] == ["someone-elses", "wrong-scope"]
    assert client.bodies == [knn_query([1.0, 0.0, 0.0], WHERE, 3)]


def test_keyword_scores_are_the_relevance_as_is() -> None:
    client = StubClient(hits=[{"_score": 3.25, "_source": _source("mine", ["*"])}])

    [hit] = _store(client).keyword_search("disk", WHERE, 3)

    assert hit.score == 3.25
    assert client.bodies == [keyword_query("disk", WHERE, 3)]


def test_a_query_vector_of_another_dimension_raises_before_searching() -> None:
    client = StubClient(mappings=[index_body(SPEC)["mappings"]])

    with pytest.raises(IndexMismatchError):
        _store(client).search([1.0, 0.0], WHERE, 3)

    assert "search" not in client.calls


def test_a_wrong_dimension_writes_nothing() -> None:
    client = StubClient(mappings=[index_body(SPEC)["mappings"]])
    good = ChunkRecord("ok", "doc-1", Scope.USER, 0, "t", (1.0, 0.0, 0.0), frozenset({"*"}))
    bad = ChunkRecord("bad", "doc-1", Scope.USER, 1, "t", (1.0, 0.0), frozenset({"*"}))

    with pytest.raises(IndexMismatchError, match="'bad' has a 2-dimensional vector"):
        _store(client).upsert([good, bad])

    assert client.calls == ["get_mapping"]


def test_ensure_accepts_losing_a_creation_race_to_the_same_spec() -> None:
    client = StubClient(
        mappings=[_not_found(), index_body(SPEC)["mappings"]],
        create_error=RequestError(400, "resource_already_exists_exception", {}),
    )

    _store(client).ensure(SPEC)

    assert client.calls == ["get_mapping", "create", "get_mapping"]


def test_ensure_refuses_an_index_a_racer_created_for_another_spec() -> None:
    other = IndexSpec(model="titan", dimension=3)
    client = StubClient(
        mappings=[_not_found(), index_body(other)["mappings"]],
        create_error=RequestError(400, "resource_already_exists_exception", {}),
    )

    with pytest.raises(IndexMismatchError, match="titan"):
        _store(client).ensure(SPEC)


def test_ensure_surfaces_other_creation_errors() -> None:
    client = StubClient(create_error=RequestError(400, "mapper_parsing_exception", {}))

    with pytest.raises(RequestError):
        _store(client).ensure(SPEC)


def test_a_recorded_spec_contradicted_by_the_vector_field_is_not_trusted() -> None:
    mapping = index_body(SPEC)["mappings"]
    mapping["properties"]["embedding"]["dimension"] = 384
    client = StubClient(mappings=[mapping])

    with pytest.raises(IndexMismatchError, match="does not match"):
        _store(client).ensure(SPEC)


# --- building the client ---------------------------------------------------------------


def test_sigv4_signs_for_serverless_over_verified_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    store = OpenSearchVectorStore.connect(
        "https://abc123.eu-west-1.aoss.amazonaws.com",
        index="chunks",
        region="eu-west-1",
        sigv4=True,
    )

    transport = store._client.transport
    auth = transport.kwargs["http_auth"]
    assert isinstance(auth, Urllib3AWSV4SignerAuth)
    assert (auth.signer.service, auth.signer.region) == ("aoss", "eu-west-1")
    assert transport.kwargs["use_ssl"] is True
    assert transport.kwargs["verify_certs"] is True
    # Serverless has no refresh API, and Classic vector collections refuse custom ids.
    assert (store._refresh, store._custom_ids) == (False, False)


def test_sigv4_refuses_plain_http() -> None:
    with pytest.raises(ValueError, match="https://"):
        OpenSearchVectorStore.connect("http://localhost:9200", index="chunks", sigv4=True)


def test_an_unsigned_store_refreshes_and_uses_chunk_ids() -> None:
    store = OpenSearchVectorStore.connect("http://127.0.0.1:9200", index="chunks")

    assert "http_auth" not in store._client.transport.kwargs
    assert (store.index, store._refresh, store._custom_ids) == ("chunks", True, True)


def test_from_settings_needs_a_url() -> None:
    with pytest.raises(SettingsError, match="OPENSEARCH_URL"):
        OpenSearchVectorStore.from_settings(load_settings())

    store = OpenSearchVectorStore.from_settings(
        load_settings(opensearch_url="http://127.0.0.1:9200", opensearch_index="kb-chunks")
    )
    assert store.index == "kb-chunks"
