"""No embedding and no vector store call while a transaction of the app is open: a model
call takes seconds (Bedrock, or the local model on two cores), and a transaction held
across it pins a pooled connection, and the row locks it took, for that long.

The knowledge service is built as `Container.knowledge` builds it, on the real
PostgreSQL, pgvector and local embedding model, but its embedder and vector store are
wrapped: before each call they ask PostgreSQL (`pg_stat_activity`) whether a connection
of the app's pool is `idle in transaction`, which is exactly a transaction that ran SQL
and is still open. Every public method that embeds or touches the index is driven, and
each wrapper must have been called, so the check cannot pass by being skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from faultmaven.adapters.aws import client
from faultmaven.adapters.s3 import S3ObjectStore
from faultmaven.auth.principal import Principal, Role
from faultmaven.container import Container
from faultmaven.core.errors import ConflictError
from faultmaven.core.pagination import PageRequest
from faultmaven.core.ports import Embedder, VectorStore
from faultmaven.core.vectors import ChunkRecord, IndexSpec, SearchFilter, VectorHit
from faultmaven.knowledge.models import (
    DocumentCreate,
    DocumentUpdate,
    DocumentUploadRequest,
    GlobalDocumentCreate,
    GranteeType,
    Permission,
    SearchRequest,
    ShareCreate,
)
from faultmaven.knowledge.service import KnowledgeService
from tests.helpers import Api, User

RUNBOOK = "# Ledger replica lag\n\n## Mitigation\nPause the nightly vacuum on the replica.\n"


class OpenTransactions:
    """Which backends of the app's pool sit in an open transaction right now."""

    def __init__(self, app_engine: Engine, database_url: str) -> None:
        self._pids: set[int] = set()
        self._probe = create_engine(database_url, isolation_level="AUTOCOMMIT")
        self.seen: list[str] = []  # "<call>: <n> open" for each call made inside one
        self.calls: list[str] = []
        event.listen(app_engine, "checkout", self._remember)
        self._engine = app_engine

    def _remember(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self._pids.add(int(dbapi_connection.info.backend_pid))

    def check(self, call: str) -> None:
        self.calls.append(call)
        with self._probe.connect() as connection:
            open_ = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"
                    " AND state LIKE 'idle in transaction%'"
                ),
                {"pids": list(self._pids)},
            )
        if open_:
            self.seen.append(f"{call}: {open_} open")

    def close(self) -> None:
        event.remove(self._engine, "checkout", self._remember)
        self._probe.dispose()


class CheckedEmbedder:
    def __init__(self, inner: Embedder, transactions: OpenTransactions) -> None:
        self._inner = inner
        self._transactions = transactions
        # Run once at the next embedding: what another request does meanwhile.
        self.meanwhile: Callable[[], object] | None = None

    @property
    def spec(self) -> IndexSpec:
        return self._inner.spec

    @property
    def batch_size(self) -> int:
        return self._inner.batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self._transactions.check("embed")
        if self.meanwhile is not None:
            interleaved, self.meanwhile = self.meanwhile, None
            interleaved()
        return self._inner.embed(texts)


class CheckedVectors:
    def __init__(self, inner: VectorStore, transactions: OpenTransactions) -> None:
        self._inner = inner
        self._transactions = transactions

    def ensure(self, spec: IndexSpec) -> None:
        self._transactions.check("ensure")
        self._inner.ensure(spec)

    def upsert(self, chunks: Sequence[ChunkRecord]) -> None:
        self._transactions.check("upsert")
        self._inner.upsert(chunks)

    def set_readers(self, document_id: str, readers: frozenset[str]) -> int:
        self._transactions.check("set_readers")
        return self._inner.set_readers(document_id, readers)

    def delete(
        self,
        *,
        document_id: str | None = None,
        case_id: str | None = None,
        owner_id: str | None = None,
        indexed_before: datetime | None = None,
    ) -> int:
        self._transactions.check("delete")
        return self._inner.delete(
            document_id=document_id,
            case_id=case_id,
            owner_id=owner_id,
            indexed_before=indexed_before,
        )

    def count(self, *, document_id: str | None = None, case_id: str | None = None) -> int:
        self._transactions.check("count")
        return self._inner.count(document_id=document_id, case_id=case_id)

    def search(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[VectorHit]:
        self._transactions.check("search")
        return self._inner.search(vector, where, k)

    def keyword_search(self, text: str, where: SearchFilter, k: int) -> list[VectorHit]:
        self._transactions.check("keyword_search")
        return self._inner.keyword_search(text, where, k)


@pytest.fixture
def transactions(container: Container) -> Iterator[OpenTransactions]:
    watcher = OpenTransactions(container.database.engine, container.settings.sqlalchemy_url)
    yield watcher
    watcher.close()


@pytest.fixture
def uploads(container: Container) -> S3ObjectStore:
    """A bucket with no S3 notification: the test, not the upload trigger, ingests."""
    bucket = f"fm-kb-tx-{uuid.uuid4().hex[:12]}"
    client("s3", container.settings).create_bucket(Bucket=bucket)
    return S3ObjectStore(container.settings, bucket)


@pytest.fixture
def embedder(container: Container, transactions: OpenTransactions) -> CheckedEmbedder:
    return CheckedEmbedder(container.embedder, transactions)


@pytest.fixture
def knowledge(
    container: Container,
    transactions: OpenTransactions,
    uploads: S3ObjectStore,
    embedder: CheckedEmbedder,
) -> KnowledgeService:
    """As `Container.knowledge`, with the checked embedder and vector store."""
    settings = container.settings
    return KnowledgeService(
        container.database,
        CheckedVectors(container.vectors, transactions),
        embedder,
        require_case_access=container.cases.require_access,
        max_document_bytes=settings.knowledge_max_document_bytes,
        objects=uploads,
        max_upload_bytes=settings.knowledge_max_upload_bytes,
        url_ttl_seconds=settings.presigned_url_ttl_seconds,
    )


def principal(user: User, *roles: Role) -> Principal:
    return Principal(
        user_id=user.user_id,
        roles=frozenset({Role.USER, *roles}),
        token_id="test",
        token_expires_at=0,
    )


def test_the_check_sees_a_transaction_left_open(
    container: Container, transactions: OpenTransactions
) -> None:
    """The wrappers' check itself: a block that ran SQL and has not committed counts."""
    transactions.check("before")
    with container.database.session() as session:
        session.execute(text("SELECT 1"))
        transactions.check("inside")
    transactions.check("after")
    assert transactions.seen == ["inside: 1 open"]


def test_no_model_or_index_call_runs_inside_a_transaction(
    api: Api,
    container: Container,
    knowledge: KnowledgeService,
    transactions: OpenTransactions,
    uploads: S3ObjectStore,
) -> None:
    alice, bob = api.user(), api.user()
    owner = principal(alice)
    admin = principal(alice, Role.ADMIN)

    body = DocumentCreate.model_validate({"title": "Replica lag", "content": RUNBOOK})
    created = knowledge.create_document(owner, body)
    document_id = created.document_id
    knowledge.update_document(
        owner, document_id, DocumentUpdate.model_validate({"content": RUNBOOK + "Resume it.\n"})
    )
    share = knowledge.add_share(
        owner,
        document_id,
        ShareCreate(
            grantee_type=GranteeType.USER, grantee_id=bob.user_id, permission=Permission.READ
        ),
    )
    request = SearchRequest.model_validate({"query": "replica lag vacuum", "scopes": ["user"]})
    assert [h.document_id for h in knowledge.search(principal(bob), request).items][:1] == [
        document_id
    ]
    knowledge.remove_share(owner, document_id, share.share_id)

    # A presigned upload, ingested as the S3 notification would.
    accepted = knowledge.request_upload(
        owner,
        DocumentUploadRequest.model_validate(
            {"title": "Big runbook", "filename": "big.md", "size_bytes": len(RUNBOOK)}
        ),
    )
    key = accepted.upload.fields["key"]
    uploads.put(key, RUNBOOK.encode(), content_type="text/markdown")
    assert knowledge.on_object_created(key, len(RUNBOOK)) == "indexed"

    # The global KB: created, refreshed, repaired, and created by an admin.
    article = GlobalDocumentCreate.model_validate(
        {"title": "Disk full", "content": "# Disk full\n\nPrune images.\n"}
    )
    assert knowledge.seed_global([("disk-full", article)], owner_id=None)["created"] == 1
    changed = article.model_copy(update={"content": "# Disk full\n\nPrune the image cache.\n"})
    assert knowledge.seed_global([("disk-full", changed)], owner_id=None)["updated"] == 1
    container.vectors.delete(document_id=_slugged(knowledge, admin, "Disk full"))
    assert knowledge.seed_global([("disk-full", changed)], owner_id=None)["updated"] == 1
    knowledge.create_global_document(
        admin,
        GlobalDocumentCreate.model_validate(
            {"title": "OOM kills", "content": "# OOM\n\nRaise the limit.\n"}
        ),
    )
    assert knowledge.reindex() >= 4

    # Case working memory, searched by a reader of the case, then forgotten.
    case_id = api.case(alice, title="Replica lag")["case_id"]
    knowledge.index_case_memory(
        case_id=case_id,
        evidence_id="evd_tx1",
        source="replica.log",
        chunks=[("chk_tx1", "replica lag grew to 40 s during vacuum")],
    )
    in_case = {"query": "replica lag", "scopes": ["case"], "case_id": case_id}
    # Found by the index, then dropped by the re-check: no evidence row backs it here.
    assert knowledge.search(owner, SearchRequest.model_validate(in_case)).items == []
    knowledge.forget_evidence("evd_tx1")
    knowledge.forget_case(case_id)
    knowledge.delete_document(owner, document_id)
    knowledge.forget_owner(alice.user_id)

    assert transactions.seen == []
    called = set(transactions.calls)
    assert {"embed", "ensure", "upsert", "set_readers", "delete", "count"} <= called
    assert {"search", "keyword_search"} <= called


def test_text_changed_while_a_rewrite_embeds_is_a_conflict_and_the_other_text_stands(
    api: Api,
    container: Container,
    knowledge: KnowledgeService,
    embedder: CheckedEmbedder,
    transactions: OpenTransactions,
) -> None:
    """The rewrite embeds with no transaction open, so another writer may commit
    meanwhile: its text stands, with its chunks, and the late rewrite is a 409."""
    owner = principal(api.user())
    body = DocumentCreate.model_validate({"title": "Replica lag", "content": RUNBOOK})
    document_id = knowledge.create_document(owner, body).document_id
    theirs = RUNBOOK + "Failover to the standby zqxtheirs.\n"
    mine = RUNBOOK + "Throttle the writers zqxmine.\n"

    def other_writer() -> object:
        change = DocumentUpdate.model_validate({"content": theirs})
        return container.knowledge.update_document(owner, document_id, change)

    embedder.meanwhile = other_writer
    with pytest.raises(ConflictError) as refused:
        knowledge.update_document(
            owner, document_id, DocumentUpdate.model_validate({"content": mine})
        )
    assert refused.value.error_code == "DOCUMENT_CHANGED"
    assert embedder.meanwhile is None  # the other writer did run while embedding

    stored = knowledge.get_document(owner, document_id)
    assert (stored.content, stored.version) == (theirs, 2)
    assert container.vectors.count(document_id=document_id) == stored.chunk_count
    found = {
        word: [
            h.document_id
            for h in knowledge.search(
                owner,
                SearchRequest.model_validate({"query": word, "scopes": ["user"]}),
                mode="keyword",
            ).items
        ]
        for word in ("zqxtheirs", "zqxmine")
    }
    assert found == {"zqxtheirs": [document_id], "zqxmine": []}
    assert transactions.seen == []


def _slugged(knowledge: KnowledgeService, admin: Principal, title: str) -> str:
    page = knowledge.list_global(admin, PageRequest(), text=title, tag=None)
    return next(d.document_id for d in page.items if d.title == title)
