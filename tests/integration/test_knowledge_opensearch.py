"""The knowledge service over the OpenSearch vector store: deleting a document, an
evidence or a case leaves no chunk behind, and sharing moves the reader tokens the
index filters on. (The same for pgvector is in test_knowledge_api.py.)

The service is built as `Container.knowledge` builds it, with the real database and
embedder, but an `OpenSearchVectorStore` over one embedded osmem-server for the module,
or over OPENSEARCH_URL when it is set. osmem refuses k-NN queries, so searches here are
keyword searches; everything else (ensure, upsert, set_readers, delete, count) is the
real REST API.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from faultmaven.adapters.vectors.opensearch import OpenSearchVectorStore
from faultmaven.auth.principal import Principal, Role
from faultmaven.container import Container
from faultmaven.core.vectors import Scope, SearchFilter, case_token
from faultmaven.knowledge.access import caller_tokens
from faultmaven.knowledge.models import (
    DocumentCreate,
    DocumentUpdate,
    GranteeType,
    Permission,
    SearchRequest,
    ShareCreate,
)
from faultmaven.knowledge.service import KnowledgeService
from faultmaven.organizations.store import scopes_in
from tests.helpers import Api, User

# Markers in every section body: headings are context for the embedding, not text that
# keyword search matches.
RUNBOOK = """# Quillfeather payments runbook

## Symptoms
Checkout requests fail with `HikariPool-1 - Connection is not available`. zxqvpayments

## Mitigation
Raise `maximumPoolSize` from 20 to 40 and restart one pod at a time. zxqvpayments
"""
REWRITTEN = """# Quillfeather payments runbook

Shed load: turn on the `checkout-queue` feature flag. zxqvpayments
"""
OTHER = "# Marrowbyte disk runbook\n\nPrune the image cache with crictl rmi --prune. zxqvdisk\n"


@pytest.fixture(scope="module")
def opensearch() -> Iterator[OpenSearch]:
    external = os.environ.get("OPENSEARCH_URL")
    if external:
        client = OpenSearch(hosts=[external], timeout=30)
        yield client
        client.close()
        return
    from osmem_server import OsmemServer

    process = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    client = OpenSearch(hosts=[process.url], timeout=30)
    try:
        yield client
    finally:
        client.close()
        process.close()


@pytest.fixture(params=[True, False], ids=["chunk-ids", "server-ids"])
def store(
    opensearch: OpenSearch, request: pytest.FixtureRequest
) -> Iterator[OpenSearchVectorStore]:
    """Both ways of storing chunks: by chunk id, and under server ids (AOSS Classic)."""
    index = f"fm-kb-test-{uuid.uuid4().hex[:12]}"
    yield OpenSearchVectorStore(opensearch, index, custom_ids=request.param)
    opensearch.indices.delete(index=index, ignore=[404])


@pytest.fixture
def knowledge(container: Container, store: OpenSearchVectorStore) -> KnowledgeService:
    """As `Container.knowledge`, on the OpenSearch store."""
    return KnowledgeService(
        container.database,
        store,
        container.embedder,
        require_case_access=container.cases.require_access,
        max_document_bytes=container.settings.knowledge_max_document_bytes,
    )


def principal(user: User) -> Principal:
    return Principal(
        user_id=user.user_id, roles=frozenset({Role.USER}), token_id="test", token_expires_at=0
    )


def document(**fields: Any) -> DocumentCreate:
    return DocumentCreate.model_validate({"title": "Payments runbook", **fields})


def readable_by(container: Container, user: User, *scopes: Scope) -> SearchFilter:
    """The filter the service would send for this caller."""
    with container.database.session() as session:
        groups = scopes_in(session, user.user_id)
    return SearchFilter(
        scopes=frozenset(scopes or {Scope.USER}), readers=caller_tokens(user.user_id, groups)
    )


def found(
    knowledge: KnowledgeService,
    store: OpenSearchVectorStore,
    container: Container,
    user: User,
    query: str,
) -> tuple[set[str], set[str]]:
    """The documents a keyword query reaches in the index itself, and through the
    service (which re-checks against PostgreSQL)."""
    raw = {h.document_id for h in store.keyword_search(query, readable_by(container, user), 50)}
    answer = knowledge.search(
        principal(user), SearchRequest(query=query, scopes=[Scope.USER], k=50), mode="keyword"
    )
    return raw, {h.document_id for h in answer.items}


def test_document_chunks_follow_shares_and_vanish_with_the_document(
    api: Api, container: Container, knowledge: KnowledgeService, store: OpenSearchVectorStore
) -> None:
    alice, bob, carol = api.user(), api.user(), api.user()
    org = api.call("POST", "/organizations", alice, json={"name": "Acme"}).json()["org_id"]
    api.call("POST", f"/organizations/{org}/members", alice, json={"user_id": carol.user_id})
    team = api.call("POST", f"/organizations/{org}/teams", alice, json={"name": "SRE"}).json()
    for member in (alice, carol):
        added = api.call(
            "POST", f"/teams/{team['team_id']}/members", alice, json={"user_id": member.user_id}
        )
        assert added.status_code == 201, added.text

    doc = knowledge.create_document(principal(alice), document(content=RUNBOOK))
    other = knowledge.create_document(principal(bob), document(title="Disk", content=OTHER))
    document_id = doc.document_id
    assert store.count(document_id=document_id) == doc.chunk_count > 1
    assert found(knowledge, store, container, alice, "zxqvpayments") == ({document_id},) * 2
    assert found(knowledge, store, container, bob, "zxqvpayments") == (set(), set())

    # A user share, then a team share: the index's reader tokens follow each.
    to_bob = knowledge.add_share(
        principal(alice),
        document_id,
        ShareCreate(grantee_type=GranteeType.USER, grantee_id=bob.user_id),
    )
    assert found(knowledge, store, container, bob, "zxqvpayments") == ({document_id},) * 2
    assert found(knowledge, store, container, carol, "zxqvpayments") == (set(), set())
    to_team = knowledge.add_share(
        principal(alice),
        document_id,
        ShareCreate(
            grantee_type=GranteeType.TEAM,
            grantee_id=team["team_id"],
            permission=Permission.WRITE,
        ),
    )
    assert found(knowledge, store, container, carol, "zxqvpayments") == ({document_id},) * 2

    knowledge.remove_share(principal(alice), document_id, to_bob.share_id)
    assert found(knowledge, store, container, bob, "zxqvpayments") == (set(), set())
    assert found(knowledge, store, container, carol, "zxqvpayments") == ({document_id},) * 2

    # A rewrite by a writer replaces every chunk: none of the old text remains.
    rewritten = knowledge.update_document(
        principal(carol), document_id, DocumentUpdate.model_validate({"content": REWRITTEN})
    )
    assert store.count(document_id=document_id) == rewritten.chunk_count
    assert found(knowledge, store, container, alice, "HikariPool maximumPoolSize") == (
        set(),
        set(),
    )
    assert found(knowledge, store, container, carol, "zxqvpayments") == ({document_id},) * 2

    knowledge.remove_share(principal(alice), document_id, to_team.share_id)
    assert found(knowledge, store, container, carol, "zxqvpayments") == (set(), set())

    # Deleting while shared leaves nothing, for anyone; the other document stays.
    knowledge.add_share(
        principal(alice),
        document_id,
        ShareCreate(grantee_type=GranteeType.USER, grantee_id=bob.user_id),
    )
    knowledge.delete_document(principal(alice), document_id)
    assert store.count(document_id=document_id) == 0
    for user in (alice, bob, carol):
        assert found(knowledge, store, container, user, "zxqvpayments") == (set(), set())
    assert store.count(document_id=other.document_id) == other.chunk_count

    # Forgetting an owner removes every chunk of their documents.
    knowledge.forget_owner(bob.user_id)
    assert store.count(document_id=other.document_id) == 0
    assert store.count() == 0


def test_case_memory_vanishes_with_its_evidence_and_its_case(
    api: Api, container: Container, knowledge: KnowledgeService, store: OpenSearchVectorStore
) -> None:
    owner = api.user()
    case_a, case_b = api.case(owner)["case_id"], api.case(owner)["case_id"]
    line = "ERROR kafka consumer group orders-svc lag 120000 on partition 7 zxqvlag"

    def index(case_id: str, evidence_id: str, pieces: int) -> int:
        return knowledge.index_case_memory(
            case_id=case_id,
            evidence_id=evidence_id,
            source="consumer.log",
            chunks=[(f"{evidence_id}-{i}", f"{line} #{i}") for i in range(pieces)],
        )

    assert index(case_a, "evd_a1", 3) == 3
    assert index(case_a, "evd_a2", 2) == 2
    assert index(case_b, "evd_b1", 2) == 2  # the same text in another case
    assert (store.count(case_id=case_a), store.count(case_id=case_b)) == (5, 2)

    # Only case A's token reaches case A's chunks.
    in_a = SearchFilter(scopes=frozenset({Scope.CASE}), readers=frozenset({case_token(case_a)}))
    assert {h.case_id for h in store.keyword_search("zxqvlag", in_a, 50)} == {case_a}
    assert len(store.keyword_search("zxqvlag", in_a, 50)) == 5

    # Re-indexing an evidence replaces its chunks; it does not add to them.
    assert index(case_a, "evd_a1", 1) == 1
    assert store.count(document_id="evd_a1") == 1
    assert store.count(case_id=case_a) == 3

    assert knowledge.forget_evidence("evd_a1") == 1
    assert store.count(document_id="evd_a1") == 0
    assert store.count(case_id=case_a) == 2

    assert knowledge.forget_case(case_a) == 2
    assert store.count(case_id=case_a) == 0
    assert store.keyword_search("zxqvlag", in_a, 50) == []
    assert store.count(case_id=case_b) == 2  # the other case is untouched
    assert knowledge.forget_case(case_b) == 2
    assert store.count() == 0
