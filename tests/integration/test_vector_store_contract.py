"""The VectorStore contract, run against every backend: pgvector always (the session's
PostgreSQL), OpenSearch when OPENSEARCH_URL names a real cluster with k-NN.

The vectors are synthetic unit vectors of the local model's dimension, so the pgvector
index built here is the one the rest of the suite uses."""

from __future__ import annotations

import math
import os
import random
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest

from faultmaven.adapters.vectors.pgvector import PgVectorStore
from faultmaven.container import Container
from faultmaven.core.clock import utcnow
from faultmaven.core.ports import VectorStore
from faultmaven.core.vectors import (
    EVERYONE,
    ChunkRecord,
    IndexMismatchError,
    IndexSpec,
    Scope,
    SearchFilter,
    case_token,
    team_token,
    user_token,
)

SPEC = IndexSpec("sentence-transformers/all-MiniLM-L6-v2", 384)


def unit(seed: int, dimension: int = SPEC.dimension) -> list[float]:
    rng = random.Random(seed)
    values = [rng.gauss(0, 1) for _ in range(dimension)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def near(vector: list[float], seed: int, noise: float) -> list[float]:
    jitter = unit(seed)
    mixed = [v + noise * j for v, j in zip(vector, jitter, strict=True)]
    norm = math.sqrt(sum(v * v for v in mixed))
    return [v / norm for v in mixed]


def chunk(
    chunk_id: str,
    *,
    readers: set[str],
    seed: int = 0,
    scope: Scope = Scope.USER,
    document_id: str = "doc-1",
    text: str = "",
    tags: tuple[str, ...] = (),
    owner_id: str | None = "u-owner",
    case_id: str | None = None,
    embedding: list[float] | None = None,
) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk_id,
        document_id=document_id,
        scope=scope,
        ordinal=0,
        text=text or f"chunk {chunk_id}",
        embedding=embedding if embedding is not None else unit(seed),
        readers=frozenset(readers),
        title=f"title of {document_id}",
        heading_path=("Runbook", "Section"),
        source="test",
        tags=tags,
        owner_id=owner_id,
        case_id=case_id,
    )


def user_filter(
    *readers: str, scopes: tuple[Scope, ...] = tuple(Scope), **kw: frozenset[str]
) -> SearchFilter:
    return SearchFilter(scopes=frozenset(scopes), readers=frozenset(readers), **kw)


@pytest.fixture(params=["pgvector", "opensearch"])
def store(request: pytest.FixtureRequest, container: Container) -> Iterator[VectorStore]:
    if request.param == "pgvector":
        pg = PgVectorStore(container.database)
        pg.ensure(SPEC)
        yield pg
        return
    url = os.environ.get("OPENSEARCH_URL")
    if not url:
        pytest.skip("OPENSEARCH_URL is not set: no OpenSearch with k-NN on this machine")
    from opensearchpy import OpenSearch

    from faultmaven.adapters.vectors.opensearch import OpenSearchVectorStore

    index = f"fm-contract-{secrets.token_hex(4)}"
    client = OpenSearch(hosts=[url])
    opensearch = OpenSearchVectorStore(client, index)
    opensearch.ensure(SPEC)
    yield opensearch
    client.indices.delete(index=index, ignore_unavailable=True)


def test_ensure_is_idempotent_and_refuses_another_model(store: VectorStore) -> None:
    store.ensure(SPEC)
    with pytest.raises(IndexMismatchError):
        store.ensure(IndexSpec("amazon.titan-embed-text-v2:0", 1024))
    with pytest.raises(IndexMismatchError):
        store.ensure(IndexSpec(SPEC.model, 256))


def test_a_second_store_on_the_same_index_refuses_another_model(container: Container) -> None:
    PgVectorStore(container.database).ensure(SPEC)
    with pytest.raises(IndexMismatchError):
        PgVectorStore(container.database).ensure(IndexSpec("other-model", SPEC.dimension))


def test_vectors_of_the_wrong_dimension_are_refused(store: VectorStore) -> None:
    with pytest.raises(IndexMismatchError):
        store.upsert([chunk("c1", readers={"user:a"}, embedding=unit(1, 8))])
    with pytest.raises(IndexMismatchError):
        store.search(unit(1, 8), user_filter("user:a"), 5)
    assert store.count(document_id="doc-1") == 0


def test_the_chunk_ids_of_a_long_document_fit(store: VectorStore) -> None:
    """A KB chunk id is `<document id>-<ordinal>`: 41 characters from ordinal 1000."""
    long_id = "kbd_" + "0" * 32 + "-12345"
    store.upsert([chunk(long_id, readers={"user:a"})])
    assert [h.chunk_id for h in store.search(unit(0), user_filter("user:a"), 1)] == [long_id]


def test_upsert_replaces_by_chunk_id_and_counts(store: VectorStore) -> None:
    store.upsert([chunk("c1", readers={"user:a"}, text="first"), chunk("c2", readers={"user:a"})])
    store.upsert([chunk("c1", readers={"user:a"}, text="second")])
    assert store.count(document_id="doc-1") == 2
    hits = store.search(unit(0), user_filter("user:a"), 5)
    assert {h.text for h in hits} == {"second", "chunk c2"}


def test_nearest_first_with_cosine_scores(store: VectorStore) -> None:
    target = unit(42)
    store.upsert(
        [
            chunk("exact", readers={"user:a"}, embedding=target),
            chunk("close", readers={"user:a"}, embedding=near(target, 7, 0.3)),
            chunk("far", readers={"user:a"}, embedding=unit(99)),
        ]
    )
    hits = store.search(target, user_filter("user:a"), 3)
    assert [h.chunk_id for h in hits] == ["exact", "close", "far"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert hits[0].score > hits[1].score > hits[2].score
    assert hits[0].heading_path == ("Runbook", "Section")
    assert hits[0].readers == frozenset({"user:a"})


# Who may read each chunk, and which callers (by their tokens) must see it.
GRID = {
    "private": {"user:owner"},
    "direct": {"user:owner", "user:friend"},
    "team": {"user:owner", "team:t1"},
    "org": {"user:owner", "org:o1"},
    "global": {EVERYONE},
    "case": {"case:c1"},
}
CALLERS = {
    "owner": {"user:owner", EVERYONE},
    "friend": {"user:friend", EVERYONE},
    "teammate": {"user:tm", "team:t1", "org:o1", EVERYONE},
    "colleague": {"user:col", "org:o1", EVERYONE},
    "stranger": {"user:stranger", "team:t9", "org:o9", EVERYONE},
    "case reader": {"user:cr", "case:c1", EVERYONE},
}


def test_access_is_enforced_inside_the_query_for_every_reader(store: VectorStore) -> None:
    records = []
    for index, (name, readers) in enumerate(GRID.items()):
        scope = {"global": Scope.GLOBAL, "case": Scope.CASE}.get(name, Scope.USER)
        records.append(
            chunk(name, readers=readers, seed=index, scope=scope, document_id=f"doc-{name}")
        )
    store.upsert(records)
    for caller, tokens in CALLERS.items():
        expected = {name for name, readers in GRID.items() if readers & tokens}
        for index in range(len(GRID)):
            # Even the exact vector of a chunk the caller may not read finds only theirs.
            hits = store.search(unit(index), user_filter(*tokens), 10)
            assert {h.chunk_id for h in hits} == expected, caller
        words = store.keyword_search("chunk", user_filter(*tokens), 10)
        assert {h.chunk_id for h in words} == expected, caller


def test_scopes_documents_and_tags_narrow_the_results(store: VectorStore) -> None:
    store.upsert(
        [
            chunk("g", readers={EVERYONE}, scope=Scope.GLOBAL, document_id="d-g", tags=("db",)),
            chunk("u", readers={"user:a"}, document_id="d-u", tags=("net",)),
            chunk("c", readers={"case:c1"}, scope=Scope.CASE, document_id="d-c", case_id="c1"),
        ]
    )
    every = ("user:a", "case:c1", EVERYONE)
    assert {h.chunk_id for h in store.search(unit(0), user_filter(*every), 10)} == {"g", "u", "c"}
    only_global = user_filter(*every, scopes=(Scope.GLOBAL,))
    assert [h.chunk_id for h in store.search(unit(0), only_global, 10)] == ["g"]
    by_doc = user_filter(*every, document_ids=frozenset({"d-u"}))
    assert [h.chunk_id for h in store.search(unit(0), by_doc, 10)] == ["u"]
    by_tag = user_filter(*every, tags=frozenset({"db", "other"}))
    assert [h.chunk_id for h in store.keyword_search("chunk", by_tag, 10)] == ["g"]
    assert store.search(unit(0), user_filter(), 10) == []


def test_a_selective_filter_still_finds_every_admitted_chunk(store: VectorStore) -> None:
    """Few readable chunks among many: the nearest overall belong to others, so an ANN
    scan alone would return fewer than k."""
    target = unit(5)
    others = [
        chunk(f"o{i}", readers={"user:other"}, embedding=near(target, 1000 + i, 0.2))
        for i in range(400)
    ]
    mine = [chunk(f"m{i}", readers={"user:me"}, seed=2000 + i) for i in range(7)]
    store.upsert(others + mine)
    hits = store.search(target, user_filter("user:me"), 5)
    assert len(hits) == 5
    assert {h.chunk_id for h in hits} <= {f"m{i}" for i in range(7)}
    assert len(store.search(target, user_filter("user:me"), 20)) == 7


def test_set_readers_changes_who_finds_a_document(store: VectorStore) -> None:
    store.upsert([chunk(f"c{i}", readers={"user:owner"}, seed=i) for i in range(3)])
    assert store.search(unit(0), user_filter("team:t1"), 5) == []
    assert store.set_readers("doc-1", frozenset({"user:owner", team_token("t1")})) == 3
    assert len(store.search(unit(0), user_filter("team:t1"), 5)) == 3
    store.set_readers("doc-1", frozenset({user_token("owner")}))
    assert store.search(unit(0), user_filter("team:t1"), 5) == []
    assert store.keyword_search("chunk", user_filter("team:t1"), 5) == []


def test_deletes_by_document_case_owner_and_age(store: VectorStore) -> None:
    store.upsert(
        [
            chunk("d1", readers={"user:a"}, document_id="doc-a", owner_id="a"),
            chunk("d2", readers={"user:a"}, document_id="doc-b", owner_id="a"),
            chunk("d3", readers={"user:b"}, document_id="doc-c", owner_id="b"),
            chunk(
                "k1",
                readers={case_token("c1")},
                scope=Scope.CASE,
                document_id="ev-1",
                owner_id=None,
                case_id="c1",
            ),
            chunk(
                "k2",
                readers={case_token("c2")},
                scope=Scope.CASE,
                document_id="ev-2",
                owner_id=None,
                case_id="c2",
            ),
        ]
    )
    with pytest.raises(ValueError, match="document"):
        store.delete()
    assert store.delete(case_id="c1", indexed_before=utcnow() - timedelta(hours=1)) == 0
    assert store.delete(case_id="c1", indexed_before=utcnow() + timedelta(seconds=1)) == 1
    assert store.count(case_id="c1") == 0 and store.count(case_id="c2") == 1
    assert store.delete(document_id="doc-a") == 1
    assert store.count(document_id="doc-b") == 1
    assert store.delete(owner_id="a") == 1
    assert store.count(document_id="doc-c") == 1
    assert store.delete(document_id="doc-missing") == 0


def test_keyword_search_matches_words_not_vectors(store: VectorStore) -> None:
    store.upsert(
        [
            chunk("pool", readers={"user:a"}, text="connection pool exhausted: too many clients"),
            chunk("dns", readers={"user:a"}, text="NXDOMAIN from CoreDNS for the service name"),
        ]
    )
    hits = store.keyword_search("postgres says too many clients", user_filter("user:a"), 5)
    assert [h.chunk_id for h in hits] == ["pool"]
    assert hits[0].score > 0
    assert store.keyword_search("!!! ???", user_filter("user:a"), 5) == []
    assert store.keyword_search("coredns", user_filter("user:b"), 5) == []
