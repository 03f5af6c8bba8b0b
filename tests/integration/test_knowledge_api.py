"""/api/v1/knowledge over the real app, PostgreSQL (pgvector), Redis and the local model."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from faultmaven.auth.principal import Principal, Role
from faultmaven.container import Container
from faultmaven.core.pagination import PageRequest
from faultmaven.db.tables import AuditEvent
from tests.helpers import Api, User, assert_envelope
from tests.integration.evidence_helpers import send_bytes, wait_for_job

RUNBOOK = """# Payments API runbook

Owned by the payments team. Page #payments-oncall.

## Symptoms
Checkout requests fail with `HikariPool-1 - Connection is not available, request timed
out after 30000ms`. The p99 latency of POST /charge climbs above 5 s.

## Mitigation
### Raise the pool
Raise `maximumPoolSize` from 20 to 40 and restart one pod at a time.

### Shed load
Turn on the `checkout-queue` feature flag so new charges are queued.
"""

DNS = """# Cluster DNS

## Symptoms
`getaddrinfo ENOTFOUND` from pods; CoreDNS logs show NXDOMAIN for search-path expansions.

## Fix
Set `ndots: 2` in the pod's dnsConfig and use fully qualified names.
"""


SEEDER = Principal(
    user_id="usr_seed", roles=frozenset({Role.USER}), token_id="t", token_expires_at=0
)


def create(api: Api, user: User, **fields: Any) -> dict[str, Any]:
    response = api.call(
        "POST", "/knowledge/documents", user, json={"title": "Payments runbook", **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def search(api: Api, user: User, query: str, **fields: Any) -> list[dict[str, Any]]:
    response = api.call("POST", "/knowledge/search", user, json={"query": query, **fields})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def audit_actions(container: Container, document_id: str) -> list[str]:
    with container.database.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_id == document_id)
                .order_by(AuditEvent.created_at)
            )
        )


def test_a_runbook_is_chunked_by_heading_and_found_by_meaning(api: Api) -> None:
    alice = api.user()
    doc = create(api, alice, content=RUNBOOK, tags=["Payments", "postgres"])
    assert doc["chunk_count"] == 4
    assert (doc["visibility"], doc["my_permission"], doc["version"]) == ("private", "manage", 1)
    assert doc["tags"] == ["payments", "postgres"]
    assert doc["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    create(api, alice, title="Cluster DNS", content=DNS)

    hits = search(api, alice, "database connections run out during checkout")
    assert hits[0]["document_id"] == doc["document_id"]
    assert hits[0]["heading_path"][0] == "Payments API runbook"
    dns = search(api, alice, "pods cannot resolve service names", k=1)
    assert dns[0]["title"] == "Cluster DNS"
    assert dns[0]["heading_path"] in (["Cluster DNS", "Symptoms"], ["Cluster DNS", "Fix"])
    assert 0 < dns[0]["similarity"] <= 1


def test_read_update_reindex_and_delete_leave_no_chunk(api: Api, container: Container) -> None:
    alice = api.user()
    doc = create(api, alice, content=RUNBOOK)
    document_id = doc["document_id"]
    got = api.call("GET", f"/knowledge/documents/{document_id}", alice).json()
    assert got["content"] == RUNBOOK

    renamed = api.call(
        "PATCH", f"/knowledge/documents/{document_id}", alice, json={"title": "Charges"}
    ).json()
    assert (renamed["title"], renamed["version"]) == ("Charges", 2)
    rewritten = api.call(
        "PATCH", f"/knowledge/documents/{document_id}", alice, json={"content": DNS}
    ).json()
    assert (rewritten["chunk_count"], rewritten["version"]) == (2, 3)
    assert container.vectors.count(document_id=document_id) == 2
    texts = {h["text"] for h in search(api, alice, "HikariPool connection timeout", k=10)}
    assert not any("HikariPool" in t for t in texts)  # the old chunks are gone

    listed = api.call("GET", "/knowledge/documents", alice).json()
    assert [d["document_id"] for d in listed["items"]] == [document_id]
    assert "content" not in listed["items"][0]

    assert api.call("DELETE", f"/knowledge/documents/{document_id}", alice).status_code == 204
    assert container.vectors.count(document_id=document_id) == 0
    gone = api.call("GET", f"/knowledge/documents/{document_id}", alice)
    assert_envelope(gone, 404, "DOCUMENT_NOT_FOUND")
    assert search(api, alice, "ndots dnsConfig") == []
    assert audit_actions(container, document_id) == [
        "kb.document.created",
        "kb.document.updated",
        "kb.document.updated",
        "kb.document.deleted",
    ]


def test_sharing_grants_revokes_and_is_audited(api: Api, container: Container) -> None:
    alice, bob = api.user(), api.user()
    doc = create(api, alice, content=RUNBOOK)
    path = f"/knowledge/documents/{doc['document_id']}"
    assert search(api, bob, "HikariPool connection is not available") == []

    share = api.call(
        "POST",
        f"{path}/shares",
        alice,
        json={"grantee_type": "user", "grantee_id": bob.user_id, "permission": "write"},
    )
    assert share.status_code == 201, share.text
    assert api.call("GET", path, alice).json()["visibility"] == "shared"
    assert (
        search(api, bob, "HikariPool connection is not available")[0]["document_id"]
        == (doc["document_id"])
    )
    shared = api.call("GET", "/knowledge/documents?relation=shared", bob).json()
    assert [d["my_permission"] for d in shared["items"]] == ["write"]
    # Write: the content, but not the placement, the shares or the document itself.
    assert api.call("PATCH", path, bob, json={"content": DNS}).status_code == 200
    for method, sub, body in (
        ("PATCH", "", {"visibility": "private"}),
        ("DELETE", "", None),
        ("GET", "/shares", None),
    ):
        denied = api.call(method, path + sub, bob, json=body)
        assert_envelope(denied, 403, "INSUFFICIENT_DOCUMENT_PERMISSION")
    again = api.call(
        "POST",
        f"{path}/shares",
        alice,
        json={"grantee_type": "user", "grantee_id": bob.user_id},
    )
    assert_envelope(again, 409, "SHARE_EXISTS")
    private = api.call("PATCH", path, alice, json={"visibility": "private"})
    assert_envelope(private, 409, "DOCUMENT_HAS_SHARES")

    removed = api.call("DELETE", f"{path}/shares/{share.json()['share_id']}", alice)
    assert removed.status_code == 204
    assert search(api, bob, "ndots dnsConfig") == []
    assert_envelope(api.call("GET", path, bob), 404, "DOCUMENT_NOT_FOUND")
    assert audit_actions(container, doc["document_id"]) == [
        "kb.document.created",
        "kb.share.created",
        "kb.document.updated",
        "kb.share.deleted",
    ]


def test_team_and_organization_visibility(api: Api) -> None:
    alice, teammate, colleague, outsider = api.user(), api.user(), api.user(), api.user()
    org = api.call("POST", "/organizations", alice, json={"name": "Acme"}).json()["org_id"]
    for member in (teammate, colleague):
        api.call("POST", f"/organizations/{org}/members", alice, json={"user_id": member.user_id})
    team = api.call("POST", f"/organizations/{org}/teams", alice, json={"name": "SRE"}).json()
    for member in (alice, teammate):
        added = api.call(
            "POST", f"/teams/{team['team_id']}/members", alice, json={"user_id": member.user_id}
        )
        assert added.status_code == 201, added.text

    doc = create(api, alice, content=RUNBOOK, visibility="team", team_id=team["team_id"])
    assert doc["org_id"] == org  # implied by the team
    query = "HikariPool connection is not available"
    assert [bool(search(api, u, query)) for u in (teammate, colleague, outsider)] == [
        True,
        False,
        False,
    ]
    path = f"/knowledge/documents/{doc['document_id']}"
    widened = api.call("PATCH", path, alice, json={"visibility": "organization"})
    assert widened.status_code == 200, widened.text
    assert [bool(search(api, u, query)) for u in (teammate, colleague, outsider)] == [
        True,
        True,
        False,
    ]
    # An owner who left the team can still narrow the document it names.
    api.call("PATCH", path, alice, json={"visibility": "team", "team_id": team["team_id"]})
    left = api.call("DELETE", f"/teams/{team['team_id']}/members/{alice.user_id}", alice)
    assert left.status_code == 204, left.text
    narrowed = api.call("PATCH", path, alice, json={"visibility": "private"})
    assert narrowed.status_code == 200, narrowed.text
    assert not search(api, teammate, query)
    foreign = api.call(
        "POST",
        "/knowledge/documents",
        outsider,
        json={"title": "x", "content": DNS, "visibility": "organization", "org_id": org},
    )
    assert_envelope(foreign, 422, "ORGANIZATION_NOT_AVAILABLE")


def test_the_global_kb_is_written_by_admins_and_read_by_everyone(
    api: Api, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    alice = api.user()
    refused = api.call(
        "POST", "/knowledge/global/documents", alice, json={"title": "DNS", "content": DNS}
    )
    assert_envelope(refused, 403, "ADMIN_ONLY")
    created = api.call(
        "POST",
        "/knowledge/global/documents",
        admin,
        json={"title": "Cluster DNS", "content": DNS, "slug": "cluster-dns"},
    )
    assert created.status_code == 201, created.text
    doc = created.json()
    assert (
        search(api, alice, "NXDOMAIN from CoreDNS", scopes=["global"])[0]["document_id"]
        == (doc["document_id"])
    )
    assert search(api, alice, "NXDOMAIN from CoreDNS", scopes=["user"]) == []
    path = f"/knowledge/documents/{doc['document_id']}"
    assert api.call("GET", path, alice).json()["my_permission"] == "read"
    assert_envelope(
        api.call("PATCH", path, alice, json={"title": "mine"}),
        403,
        "INSUFFICIENT_DOCUMENT_PERMISSION",
    )
    assert_envelope(api.call("DELETE", path, alice), 403, "INSUFFICIENT_DOCUMENT_PERMISSION")
    listed = api.call("GET", "/knowledge/global/documents?q=coredns", alice).json()
    assert [d["slug"] for d in listed["items"]] == ["cluster-dns"]
    share = api.call(
        "POST", f"{path}/shares", admin, json={"grantee_type": "user", "grantee_id": alice.user_id}
    )
    assert_envelope(share, 409, "DOCUMENT_NOT_SHAREABLE")
    duplicate = api.call(
        "POST",
        "/knowledge/global/documents",
        admin,
        json={"title": "Again", "content": DNS, "slug": "cluster-dns"},
    )
    assert_envelope(duplicate, 409, "DOCUMENT_EXISTS")


def test_the_seed_loads_the_starter_kb_once(container: Container) -> None:
    from faultmaven.knowledge.seed import load_articles

    assert len(load_articles()) >= 30
    # A few articles: embedding all of them takes a while on two cores (benchmarks/
    # knowledge_retrieval.py seeds the whole KB).
    articles = load_articles()[:3]
    first = container.knowledge.seed_global(articles, owner_id=None)
    assert first == {"created": len(articles), "updated": 0, "unchanged": 0}
    again = container.knowledge.seed_global(articles, owner_id=None)
    assert again == {"created": 0, "updated": 0, "unchanged": len(articles)}
    # A seed interrupted between an article's row and its vectors is repaired next time.
    first_id = (
        container.knowledge.list_global(SEEDER, PageRequest(page_size=1), text=None, tag=None)
        .items[0]
        .document_id
    )
    container.vectors.delete(document_id=first_id)
    repaired = container.knowledge.seed_global(articles, owner_id=None)
    assert repaired == {"created": 0, "updated": 1, "unchanged": len(articles) - 1}
    assert container.vectors.count(document_id=first_id) > 0


@pytest.fixture
def case_with_evidence(api: Api) -> tuple[User, str, str]:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    log = "\n".join(
        f"2026-11-22T10:01:{i:02d}Z ERROR kafka consumer group orders-svc lag 120000 on "
        "partition 7, rebalance in progress"
        for i in range(30)
    )
    accepted = api.call("POST", f"/cases/{case_id}/evidence/text", owner, json={"content": log})
    assert accepted.status_code == 202, accepted.text
    assert wait_for_job(api, owner, accepted.json()["job_id"]).status_code == 303
    return owner, case_id, accepted.json()["evidence_id"]


def test_case_memory_is_indexed_searchable_by_case_readers_and_deleted_with_it(
    api: Api, container: Container, case_with_evidence: tuple[User, str, str]
) -> None:
    owner, case_id, evidence_id = case_with_evidence
    assert container.vectors.count(case_id=case_id) >= 1
    query = {"query": "consumer group falling behind", "scopes": ["case"], "case_id": case_id}
    hits = search(api, owner, **query)
    assert hits and {h["document_id"] for h in hits} == {evidence_id}
    assert hits[0]["scope"] == "case" and hits[0]["case_id"] == case_id

    viewer, stranger = api.user(), api.user()
    api.share(owner, case_id, viewer, "viewer")
    assert search(api, viewer, **query)
    refused = api.call("POST", "/knowledge/search", stranger, json=query)
    assert_envelope(refused, 404, "CASE_NOT_FOUND")
    # The case scope is never reached without naming the case.
    assert search(api, owner, "consumer group falling behind", scopes=["user", "global"]) == []

    assert api.call("DELETE", f"/evidence/{evidence_id}", owner).status_code == 204
    assert container.vectors.count(case_id=case_id) == 0


def test_deleting_a_case_deletes_its_memory(
    api: Api, container: Container, case_with_evidence: tuple[User, str, str]
) -> None:
    owner, case_id, _ = case_with_evidence
    assert container.vectors.count(case_id=case_id) >= 1
    assert api.call("DELETE", f"/cases/{case_id}", owner).status_code == 204
    assert container.vectors.count(case_id=case_id) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"title": "t", "content": ""}, 422, "VALIDATION_FAILED"),
        ({"title": "t", "content": "   \n  "}, 422, "VALIDATION_FAILED"),
        ({"title": "", "content": "x"}, 422, "VALIDATION_FAILED"),
        ({"title": "t", "content": "x", "content_type": "application/pdf"}, 422, None),
        ({"title": "t", "content": "x", "visibility": "public"}, 422, None),
        ({"title": "t", "content": "x", "visibility": "team"}, 422, "VALIDATION_FAILED"),
        ({"title": "t", "content": "x", "tags": ["bad tag!"]}, 422, None),
        ({"title": "t", "content": "x", "owner_id": "usr_x"}, 422, None),
        ({"title": "t", "content": "x" * 600_000}, 413, "DOCUMENT_TOO_LARGE"),
        ({"title": "t", "content": "x" * (5 * 1024 * 1024)}, 413, None),
    ],
)
def test_bad_documents_get_an_envelope(
    api: Api, body: dict[str, Any], status: int, code: str | None
) -> None:
    alice = api.user()
    assert_envelope(api.call("POST", "/knowledge/documents", alice, json=body), status, code)
    assert api.call("GET", "/knowledge/documents", alice).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"query": "x", "scopes": ["everything"]},
        {"query": "x", "scopes": []},
        {"query": "x", "k": 0},
        {"query": "x", "k": 1000},
        {"query": ""},
        {"query": "x" * 3000},
        {"query": "x", "scopes": ["case"]},
        {"query": "x", "case_id": "case_1"},
        {"query": "x", "filters": {"tags": "db"}},
        {"query": "x", "filters": {"unknown": []}},
    ],
)
def test_bad_searches_get_an_envelope(api: Api, body: dict[str, Any]) -> None:
    assert_envelope(
        api.call("POST", "/knowledge/search", api.user(), json=body), 422, "VALIDATION_FAILED"
    )


def test_bad_shares_and_unknown_objects(api: Api) -> None:
    alice = api.user()
    path = f"/knowledge/documents/{create(api, alice, content=DNS)['document_id']}"
    for body, status, code in (
        ({"grantee_type": "robot", "grantee_id": "x"}, 422, "VALIDATION_FAILED"),
        ({"grantee_type": "user", "grantee_id": "usr_missing"}, 404, "USER_NOT_FOUND"),
        ({"grantee_type": "user", "grantee_id": alice.user_id}, 422, "VALIDATION_FAILED"),
        ({"grantee_type": "team", "grantee_id": "team_missing"}, 404, "TEAM_NOT_FOUND"),
        ({"grantee_type": "organization", "grantee_id": "org_x"}, 404, "ORGANIZATION_NOT_FOUND"),
        ({"grantee_type": "user", "grantee_id": "x", "permission": "admin"}, 422, None),
    ):
        assert_envelope(api.call("POST", f"{path}/shares", alice, json=body), status, code)
    assert_envelope(api.call("DELETE", f"{path}/shares/shr_missing", alice), 404, "SHARE_NOT_FOUND")
    assert_envelope(
        api.call("GET", "/knowledge/documents/kbd_missing", alice), 404, "DOCUMENT_NOT_FOUND"
    )
    assert_envelope(api.call("PATCH", path, alice, json={}), 422, "VALIDATION_FAILED")
    assert_envelope(api.call("PATCH", path, alice, json={"title": None}), 422, "VALIDATION_FAILED")
    assert_envelope(api.call("GET", "/knowledge/documents?page_size=1000", alice), 422)
    assert_envelope(api.call("POST", "/knowledge/search", None, json={"query": "x"}), 401)


def request_upload(api: Api, user: User, body: bytes, **fields: Any) -> Any:
    return api.call(
        "POST",
        "/knowledge/documents/uploads",
        user,
        json={"title": "Big runbook", "filename": "runbook.md", "size_bytes": len(body), **fields},
    )


def test_a_large_document_arrives_through_a_presigned_upload(
    api: Api, container: Container
) -> None:
    alice = api.user()
    body = (RUNBOOK + "\n" + "\n".join(f"Step {i}: check shard {i}." for i in range(400))).encode()
    accepted = request_upload(api, alice, body)
    assert accepted.status_code == 202, accepted.text
    document = accepted.json()["document"]
    path = f"/knowledge/documents/{document['document_id']}"
    assert accepted.headers["location"] == "/api/v1" + path
    assert document["status"] == "pending"
    pending = api.call("PATCH", path, alice, json={"title": "too early"})
    assert_envelope(pending, 409, "DOCUMENT_NOT_READY")

    send_bytes(accepted.json(), body, "runbook.md")
    ready = api.call("GET", path, alice).json()
    assert (ready["status"], ready["size_bytes"]) == ("ready", len(body))
    assert ready["content"] == body.decode()
    assert ready["chunk_count"] == container.vectors.count(document_id=document["document_id"])
    assert (
        search(api, alice, "HikariPool connection is not available")[0]["document_id"]
        == (document["document_id"])
    )
    # The file is gone from S3 once PostgreSQL holds the text; a redelivered
    # notification changes nothing.
    key = f"knowledge/{document['document_id']}/source.md"
    assert container.objects.head(key) is None
    assert container.knowledge.on_object_created(key, len(body)) == "duplicate"
    assert container.knowledge.on_object_created("knowledge/kbd_x/source.md", 1) == "ignored"


def test_an_unusable_upload_fails_the_document_with_a_reason(api: Api) -> None:
    alice = api.user()
    binary = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    accepted = request_upload(api, alice, binary, filename="diagram.png")
    send_bytes(accepted.json(), binary, "diagram.png")
    failed = api.call(
        "GET", f"/knowledge/documents/{accepted.json()['document']['document_id']}", alice
    )
    assert failed.json()["status"] == "failed"
    assert "UTF-8" in failed.json()["failure_reason"]
    too_big = request_upload(api, alice, b"x", size_bytes=50 * 1024 * 1024)
    assert_envelope(too_big, 413, "DOCUMENT_TOO_LARGE")
    assert_envelope(request_upload(api, alice, b"x", size_bytes=0), 422, "VALIDATION_FAILED")


def test_an_unreachable_vector_store_is_a_503_and_stores_nothing(container: Container) -> None:
    """The real OpenSearch adapter pointed at a closed port: writes and searches answer
    with the envelope, and no document row is left without its chunks."""
    import socket

    from fastapi.testclient import TestClient

    from faultmaven.adapters.vectors.opensearch import OpenSearchVectorStore
    from faultmaven.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broken = Container(container.settings, container.database, container.kv)
    broken.__dict__["vectors"] = OpenSearchVectorStore.connect(
        f"http://127.0.0.1:{port}", index="unreachable", timeout_seconds=1
    )
    with TestClient(create_app(container=broken), raise_server_exceptions=False) as client:
        api = Api(client)
        alice = api.user()
        created = api.call(
            "POST", "/knowledge/documents", alice, json={"title": "t", "content": DNS}
        )
        assert_envelope(created, 503, "KNOWLEDGE_INDEX_UNAVAILABLE")
        assert api.call("GET", "/knowledge/documents", alice).json()["total"] == 0
        searched = api.call("POST", "/knowledge/search", alice, json={"query": "dns"})
        assert_envelope(searched, 503, "KNOWLEDGE_INDEX_UNAVAILABLE")
