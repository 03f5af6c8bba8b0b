"""The OpenSearch vector store against a real OpenSearch REST server.

By default that is one embedded osmem-server for the module (in memory, 127.0.0.1, a free
port). osmem speaks the index, mapping, bulk, count, search and delete-by-query APIs but
refuses `knn` queries and scripted update-by-query, so vector search itself is tested
only when OPENSEARCH_URL names a self-managed OpenSearch with the k-NN plugin: every test
then runs against it as well.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch

from faultmaven.adapters.vectors import opensearch as module
from faultmaven.adapters.vectors.opensearch import OpenSearchVectorStore, index_body
from faultmaven.core.vectors import (
    ChunkRecord,
    IndexMismatchError,
    IndexSpec,
    Scope,
    SearchFilter,
    VectorHit,
)

SPEC = IndexSpec(model="test-model", dimension=4)
EVERY_SCOPE = frozenset(Scope)
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Replaces the package's autouse fixture: these tests need no PostgreSQL, Redis or
    moto, so they should not start them."""


@dataclass(frozen=True)
class Server:
    name: str
    url: str

    @property
    def has_knn(self) -> bool:
        return self.name != "osmem"


BACKENDS = ["osmem", *(["external"] if os.environ.get("OPENSEARCH_URL") else [])]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    if request.param == "external":
        yield Server("external", os.environ["OPENSEARCH_URL"])
        return
    from osmem_server import OsmemServer

    # Port 0: the server picks a free one and reports its URL once it listens.
    process = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        yield Server("osmem", process.url)
    finally:
        process.close()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[OpenSearch]:
    connection = OpenSearch(hosts=[server.url], timeout=30)
    yield connection
    connection.close()


class Clock:
    """The store's clock, moved by hand so `indexed_before` cut-offs are exact."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def index_name(client: OpenSearch) -> Iterator[str]:
    name = f"fm-test-{uuid.uuid4().hex[:12]}"
    yield name
    client.indices.delete(index=name, ignore=[404])


@pytest.fixture(params=[True, False], ids=["chunk-ids", "server-ids"])
def store(
    client: OpenSearch, index_name: str, clock: Clock, request: pytest.FixtureRequest
) -> OpenSearchVectorStore:
    """Both ways of storing a chunk: under `_id = chunk_id`, and under ids the server
    generates (OpenSearch Serverless Classic vector collections refuse custom ids)."""
    store = OpenSearchVectorStore(client, index_name, clock=clock, custom_ids=request.param)
    store.ensure(SPEC)
    return store


def chunk(
    chunk_id: str,
    *,
    document_id: str = "doc-1",
    scope: Scope = Scope.USER,
    readers: Sequence[str] = ("user:a",),
    text: str = "disk full on the database node",
    embedding: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
    **fields: Any,
) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk_id,
        document_id=document_id,
        scope=scope,
        ordinal=int(fields.pop("ordinal", 0)),
        text=text,
        embedding=tuple(embedding),
        readers=frozenset(readers),
        **fields,
    )


def readable_by(*readers: str, **narrowing: frozenset[str]) -> SearchFilter:
    return SearchFilter(scopes=EVERY_SCOPE, readers=frozenset(readers), **narrowing)


def stored_ids(client: OpenSearch, index: str) -> set[str]:
    """What the index holds, read directly rather than through the adapter."""
    response = client.search(
        index=index, body={"size": 1000, "query": {"match_all": {}}, "_source": ["chunk_id"]}
    )
    return {hit["_source"]["chunk_id"] for hit in response["hits"]["hits"]}


def ids(hits: Sequence[VectorHit]) -> set[str]:
    return {hit.chunk_id for hit in hits}


# --- ensure ------------------------------------------------------------------------


def test_ensure_creates_the_index_with_a_strict_mapping_that_records_the_model(
    client: OpenSearch, index_name: str
) -> None:
    OpenSearchVectorStore(client, index_name).ensure(SPEC)

    mappings = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mappings["_meta"] == {"faultmaven": {"model": "test-model", "dimension": 4}}
    assert mappings["dynamic"] == "strict"
    properties = mappings["properties"]
    embedding = properties["embedding"]
    assert embedding["type"] == "knn_vector"
    assert embedding["dimension"] == 4
    assert embedding["method"]["name"] == "hnsw"
    assert embedding["method"]["space_type"] == "cosinesimil"
    assert embedding["method"]["engine"] == "faiss"
    for name in ("chunk_id", "document_id", "scope", "readers", "tags", "owner_id", "case_id"):
        assert properties[name]["type"] == "keyword", name
    assert properties["source"]["type"] == "keyword"
    assert properties["heading_path"]["type"] == "keyword"
    assert properties["text"] == {"type": "text", "analyzer": "english"}
    assert properties["title"] == {"type": "text", "analyzer": "english"}
    assert properties["ordinal"]["type"] == "integer"
    assert properties["indexed_at"]["type"] == "date"
    settings = client.indices.get_settings(index=index_name)[index_name]["settings"]
    assert str(settings["index"]["knn"]).lower() == "true"


def test_ensure_again_is_a_no_op_for_this_and_a_fresh_store(
    client: OpenSearch, store: OpenSearchVectorStore, index_name: str
) -> None:
    store.upsert([chunk("c1")])
    mapping_before = client.indices.get_mapping(index=index_name)

    store.ensure(SPEC)
    OpenSearchVectorStore(client, index_name).ensure(SPEC)  # reads _meta, no cache

    assert client.indices.get_mapping(index=index_name) == mapping_before
    assert store.count() == 1


def test_concurrent_ensures_all_succeed(client: OpenSearch, index_name: str) -> None:
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def ensure() -> None:
        start.wait()
        try:
            OpenSearchVectorStore(client, index_name).ensure(SPEC)
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert client.indices.get_mapping(index=index_name)[index_name]["mappings"]["_meta"]


@pytest.mark.parametrize(
    "other",
    [IndexSpec(model="test-model", dimension=8), IndexSpec(model="another-model", dimension=4)],
    ids=["other-dimension", "other-model"],
)
def test_ensure_with_another_spec_raises(
    client: OpenSearch, store: OpenSearchVectorStore, index_name: str, other: IndexSpec
) -> None:
    with pytest.raises(IndexMismatchError):
        store.ensure(other)
    with pytest.raises(IndexMismatchError):
        OpenSearchVectorStore(client, index_name).ensure(other)


def test_an_index_without_our_meta_is_not_trusted(client: OpenSearch, index_name: str) -> None:
    foreign = index_body(SPEC)
    del foreign["mappings"]["_meta"]
    client.indices.create(index=index_name, body=foreign)

    with pytest.raises(IndexMismatchError, match="_meta"):
        OpenSearchVectorStore(client, index_name).ensure(SPEC)


# --- upsert, count -----------------------------------------------------------------


def test_bulk_upsert_then_count_by_document_and_case(store: OpenSearchVectorStore) -> None:
    store.upsert(
        [
            chunk("c1", document_id="doc-1", ordinal=0),
            chunk("c2", document_id="doc-1", ordinal=1),
            chunk("c3", document_id="doc-2", scope=Scope.CASE, case_id="case-1"),
            chunk("c4", document_id="doc-3", scope=Scope.CASE, case_id="case-1"),
        ]
    )

    assert store.count() == 4
    assert store.count(document_id="doc-1") == 2
    assert store.count(case_id="case-1") == 2
    assert store.count(document_id="doc-2", case_id="case-1") == 1
    assert store.count(document_id="doc-1", case_id="case-1") == 0
    assert store.count(document_id="nope") == 0


def test_upserting_the_same_chunk_id_replaces_it(
    client: OpenSearch, store: OpenSearchVectorStore, index_name: str
) -> None:
    store.upsert([chunk("c1", text="the old disk text"), chunk("c2")])
    store.upsert([chunk("c1", text="kernel panic after upgrade", readers=("user:b",))])

    assert store.count() == 2
    assert stored_ids(client, index_name) == {"c1", "c2"}
    assert store.keyword_search("kernel panic", readable_by("user:a"), 10) == []
    [hit] = store.keyword_search("kernel panic", readable_by("user:b"), 10)
    assert (hit.chunk_id, hit.text, hit.readers) == (
        "c1",
        "kernel panic after upgrade",
        frozenset({"user:b"}),
    )


def test_a_wrong_dimension_raises_and_writes_nothing(store: OpenSearchVectorStore) -> None:
    with pytest.raises(IndexMismatchError, match="3-dimensional"):
        store.upsert([chunk("ok"), chunk("bad", embedding=(1.0, 0.0, 0.0))])

    assert store.count() == 0


def test_a_chunk_round_trips_without_its_vector(
    client: OpenSearch, store: OpenSearchVectorStore, index_name: str
) -> None:
    record = chunk(
        "c1",
        document_id="doc-9",
        scope=Scope.CASE,
        ordinal=3,
        readers=("case:k1", "user:a"),
        text="the disk on node 3 is full",
        title="Disk pressure runbook",
        heading_path=("Storage", "Disks"),
        source="runbooks/disk.md",
        tags=("storage", "linux"),
        owner_id="u1",
        case_id="k1",
    )
    store.upsert([record])

    [hit] = store.keyword_search("disk", readable_by("case:k1"), 5)

    assert hit.score > 0
    assert replace(hit, score=0.0) == VectorHit(
        chunk_id="c1",
        document_id="doc-9",
        scope=Scope.CASE,
        ordinal=3,
        text="the disk on node 3 is full",
        score=0.0,
        readers=frozenset({"case:k1", "user:a"}),
        title="Disk pressure runbook",
        heading_path=("Storage", "Disks"),
        source="runbooks/disk.md",
        tags=("storage", "linux"),
        owner_id="u1",
        case_id="k1",
    )
    assert hit.indexed_at == T0
    raw = client.search(
        index=index_name, body=module.keyword_query("disk", readable_by("user:a"), 5)
    )
    [raw_hit] = raw["hits"]["hits"]
    assert "embedding" not in raw_hit["_source"]
    [stored] = client.search(index=index_name, body={"query": {"term": {"chunk_id": "c1"}}})[
        "hits"
    ]["hits"]
    assert stored["_source"]["embedding"] == [1.0, 0.0, 0.0, 0.0]  # stored, just not returned


def test_keyword_search_ranks_title_matches_first(store: OpenSearchVectorStore) -> None:
    store.upsert(
        [
            chunk("body", text="we saw a latency spike", title="Incident notes"),
            chunk("title", text="see the graphs below", title="Latency spike"),
        ]
    )

    hits = store.keyword_search("latency spike", readable_by("user:a"), 5)

    assert [hit.chunk_id for hit in hits] == ["title", "body"]
    assert hits[0].score > hits[1].score


# --- set_readers -------------------------------------------------------------------


def test_set_readers_replaces_a_documents_readers_and_search_follows(
    store: OpenSearchVectorStore,
) -> None:
    store.upsert(
        [
            chunk("d1-0", document_id="doc-1", ordinal=0),
            chunk("d1-1", document_id="doc-1", ordinal=1),
            chunk("d1-2", document_id="doc-1", ordinal=2),
            chunk("d2-0", document_id="doc-2"),
        ]
    )

    assert store.set_readers("doc-1", frozenset({"user:b", "team:t"})) == 3

    assert ids(store.keyword_search("disk", readable_by("user:a"), 10)) == {"d2-0"}
    by_team = store.keyword_search("disk", readable_by("team:t"), 10)
    assert ids(by_team) == {"d1-0", "d1-1", "d1-2"}
    assert {hit.readers for hit in by_team} == {frozenset({"user:b", "team:t"})}
    assert store.set_readers("no-such-document", frozenset({"user:z"})) == 0


def test_set_readers_pages_through_large_documents(
    store: OpenSearchVectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "PAGE_SIZE", 3)
    store.upsert([chunk(f"c{i:02}", ordinal=i) for i in range(8)])

    assert store.set_readers("doc-1", frozenset({"user:b"})) == 8

    assert len(store.keyword_search("disk", readable_by("user:b"), 20)) == 8
    assert store.keyword_search("disk", readable_by("user:a"), 20) == []


# --- delete ------------------------------------------------------------------------


def _delete_fixture(store: OpenSearchVectorStore) -> None:
    store.upsert(
        [
            chunk("a", document_id="doc-1", case_id="case-1", owner_id="u1"),
            chunk("b", document_id="doc-2", case_id="case-2", owner_id="u1"),
            chunk("c", document_id="doc-3", owner_id="u2"),
            chunk("d", document_id="doc-4", case_id="case-1", owner_id="u3"),
        ]
    )


@pytest.mark.parametrize(
    ("criteria", "deleted"),
    [
        ({"document_id": "doc-1"}, {"a"}),
        ({"case_id": "case-1"}, {"a", "d"}),
        ({"owner_id": "u1"}, {"a", "b"}),
        ({"owner_id": "u1", "case_id": "case-2"}, {"b"}),
        ({"document_id": "doc-1", "case_id": "case-2"}, set()),
        ({"owner_id": "nobody"}, set()),
    ],
    ids=["document", "case", "owner", "owner-and-case", "criteria-are-anded", "no-match"],
)
def test_delete_removes_exactly_the_matching_chunks(
    client: OpenSearch,
    store: OpenSearchVectorStore,
    index_name: str,
    criteria: dict[str, Any],
    deleted: set[str],
) -> None:
    _delete_fixture(store)

    assert store.delete(**criteria) == len(deleted)

    assert stored_ids(client, index_name) == {"a", "b", "c", "d"} - deleted


def test_delete_indexed_before_keeps_newer_chunks(
    client: OpenSearch, store: OpenSearchVectorStore, index_name: str, clock: Clock
) -> None:
    _delete_fixture(store)
    cutoff = clock.advance(3600)
    store.upsert([chunk("e", document_id="doc-5", owner_id="u1")])
    clock.advance(1)
    store.upsert([chunk("b", document_id="doc-2", case_id="case-2", owner_id="u1")])  # renewed

    assert store.delete(owner_id="u1", indexed_before=cutoff) == 1

    assert stored_ids(client, index_name) == {"b", "c", "d", "e"}


def test_delete_needs_a_document_case_or_owner(store: OpenSearchVectorStore) -> None:
    _delete_fixture(store)

    with pytest.raises(ValueError, match="document_id, case_id or owner_id"):
        store.delete(indexed_before=T0 + timedelta(days=1))

    assert store.count() == 4


# --- access filtering --------------------------------------------------------------

TOKENS = ("user:a", "user:b", "team:t", "org:o", "case:k", "*")
READER_SETS = [
    frozenset(combo) for size in (1, 2) for combo in itertools.combinations(TOKENS, size)
][:14]
TAG_SETS = [(), ("db",), ("net",), ("db", "net")]


def _grid() -> list[ChunkRecord]:
    scopes = list(Scope)
    return [
        chunk(
            f"g{i:02}",
            document_id=f"doc-{i % 3}",
            scope=scopes[i % len(scopes)],
            readers=sorted(readers),
            tags=TAG_SETS[i % len(TAG_SETS)],
            ordinal=i,
        )
        for i, readers in enumerate(READER_SETS * 2)
    ]


def _filters() -> Iterator[SearchFilter]:
    scope_sets = [frozenset({Scope.USER}), frozenset({Scope.CASE, Scope.GLOBAL}), EVERY_SCOPE]
    reader_sets = [
        frozenset({"user:a"}),
        frozenset({"user:b", "team:t"}),
        frozenset({"*"}),
        frozenset({"case:k", "org:o", "user:a"}),
        frozenset({"user:nobody"}),
    ]
    document_sets = [frozenset(), frozenset({"doc-1"}), frozenset({"doc-0", "doc-2"})]
    tag_sets = [frozenset(), frozenset({"db"}), frozenset({"net", "other"})]
    for scopes, readers, documents, tags in itertools.product(
        scope_sets, reader_sets, document_sets, tag_sets
    ):
        yield SearchFilter(scopes=scopes, readers=readers, document_ids=documents, tags=tags)


def _admitted(record: ChunkRecord, where: SearchFilter) -> bool:
    return (
        record.scope in where.scopes
        and not where.readers.isdisjoint(record.readers)
        and (not where.document_ids or record.document_id in where.document_ids)
        and (not where.tags or not where.tags.isdisjoint(record.tags))
    )


def test_keyword_search_returns_exactly_what_the_filter_admits(
    store: OpenSearchVectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = _grid()
    store.upsert(grid)
    dropped: list[str] = []
    # The adapter re-checks hits and drops strays; the query itself must not return any.
    monkeypatch.setattr(module._LOG, "error", lambda message, *a, **k: dropped.append(message))

    checked = 0
    for where in _filters():
        expected = {record.chunk_id for record in grid if _admitted(record, where)}
        hits = store.keyword_search("disk database", where, 100)
        assert ids(hits) == expected, where
        assert all(where.admits(hit) for hit in hits)
        checked += 1

    assert dropped == []
    assert checked == 135


def test_a_filter_without_scopes_or_readers_finds_nothing(store: OpenSearchVectorStore) -> None:
    store.upsert([chunk("c1", readers=("*",))])

    assert store.keyword_search("disk", SearchFilter(EVERY_SCOPE, frozenset()), 10) == []
    assert store.keyword_search("disk", SearchFilter(frozenset(), frozenset({"*"})), 10) == []
    assert store.keyword_search("   ", readable_by("*"), 10) == []


# --- an index that does not exist yet ------------------------------------------------


def test_reads_and_deletes_on_a_missing_index_find_nothing(
    client: OpenSearch, index_name: str
) -> None:
    store = OpenSearchVectorStore(client, index_name)

    assert store.count() == 0
    assert store.delete(document_id="doc-1") == 0
    assert store.set_readers("doc-1", frozenset({"user:a"})) == 0
    assert store.keyword_search("disk", readable_by("user:a"), 5) == []
    assert store.search((1.0, 0.0, 0.0, 0.0), readable_by("user:a"), 5) == []
    with pytest.raises(IndexMismatchError, match="does not exist"):
        store.upsert([chunk("c1")])


# --- vector search (needs a real k-NN engine) ----------------------------------------


def test_vector_search_returns_the_nearest_readable_chunks_by_cosine(
    server: Server, store: OpenSearchVectorStore
) -> None:
    if not server.has_knn:
        pytest.skip("osmem-server rejects knn queries; set OPENSEARCH_URL to a k-NN OpenSearch")
    store.upsert(
        [
            chunk("same", embedding=(1.0, 0.0, 0.0, 0.0)),
            chunk("near", embedding=(0.6, 0.8, 0.0, 0.0)),
            chunk("orthogonal", embedding=(0.0, 1.0, 0.0, 0.0)),
            chunk("opposite", embedding=(-1.0, 0.0, 0.0, 0.0)),
            chunk("hidden", embedding=(1.0, 0.0, 0.0, 0.0), readers=("user:b",)),
            chunk("other-doc", document_id="doc-2", embedding=(0.8, 0.6, 0.0, 0.0)),
        ]
    )

    hits = store.search(
        (1.0, 0.0, 0.0, 0.0), readable_by("user:a", document_ids=frozenset({"doc-1"})), 3
    )

    assert [hit.chunk_id for hit in hits] == ["same", "near", "orthogonal"]
    assert [hit.score for hit in hits] == pytest.approx([1.0, 0.6, 0.0], abs=1e-3)
    assert ids(store.search((1.0, 0.0, 0.0, 0.0), readable_by("user:b"), 5)) == {"hidden"}
    with pytest.raises(IndexMismatchError):
        store.search((1.0, 0.0, 0.0), readable_by("user:a"), 3)
