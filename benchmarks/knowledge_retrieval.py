"""Retrieval quality of the global knowledge base: does a question find its article?

The 41 starter articles are seeded through `KnowledgeService.seed_global` into an embedded
PostgreSQL (pgvector) with the local model (all-MiniLM-L6-v2), exactly as the local
runtime does. Each of the labelled questions in `data/retrieval_questions.json` (written
the way people ask: error text, symptoms, no article vocabulary) is then searched through
`KnowledgeService.search` with k=10 in each mode: vector only, keyword only (PostgreSQL
full text) and hybrid (reciprocal rank fusion of both).

A hit list is ranked by document: the rank of the expected article is the position of its
first chunk once repeated chunks of one document are collapsed. Printed per mode:
recall@1, recall@5, MRR@10, mean and p95 latency of a search (the query's embedding is
evicted from the Redis cache first, so every search pays the model as a first question
does), and the questions hybrid search misses at 5. Target: hybrid recall@5 >= 0.90.

Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _support import BENCH_JWT_SECRET, Stores, embedded_stores, header, percentile

from faultmaven.auth.principal import Principal, Role
from faultmaven.container import Container, build_container
from faultmaven.core.settings import load_settings
from faultmaven.core.vectors import Scope
from faultmaven.knowledge.embedding_cache import CachedEmbedder
from faultmaven.knowledge.models import SearchRequest
from faultmaven.knowledge.seed import load_articles
from faultmaven.knowledge.service import Mode

QUESTIONS = Path(__file__).resolve().parent / "data" / "retrieval_questions.json"
MODES: tuple[Mode, ...] = ("vector", "keyword", "hybrid")
K = 10
TARGET_RECALL_AT_5 = 0.90
# Any user id will do: global articles are readable by every signed-in user, and a
# caller without memberships is simply the plainest one.
READER = Principal(
    user_id="usr_bench_reader",
    roles=frozenset({Role.USER}),
    token_id="bench",  # noqa: S106 - a token id, not a secret
    token_expires_at=0,
)


@dataclass(frozen=True)
class Question:
    text: str
    expected: str  # slug


@dataclass(frozen=True)
class Answer:
    question: Question
    ranked_slugs: list[str]  # documents in hit order, each once
    seconds: float

    @property
    def rank(self) -> int | None:
        if self.question.expected in self.ranked_slugs:
            return self.ranked_slugs.index(self.question.expected) + 1
        return None


def load_questions() -> list[Question]:
    rows = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    return [Question(row["question"], row["expected"]) for row in rows]


def build(stores: Stores) -> Container:
    return build_container(
        load_settings(
            environment="test",
            database_url=stores.database_url,
            redis_url=stores.redis_url,
            jwt_secret=BENCH_JWT_SECRET,
            log_level="WARNING",
        )
    )


def seed(container: Container) -> dict[str, str]:
    """Seed the global KB, print its cost, and return document id -> slug."""
    from sqlalchemy import select

    from faultmaven.adapters.embeddings.local import LocalEmbedder
    from faultmaven.db.tables import KnowledgeDocument

    started = time.perf_counter()
    LocalEmbedder().embed(["warm-up"])  # the weights load once per process: not seeding
    print(f"  model load (first embed):  {time.perf_counter() - started:6.1f} s")

    articles = load_articles()
    started = time.perf_counter()
    counts = container.knowledge.seed_global(articles, owner_id=None)
    elapsed = time.perf_counter() - started
    chunks = container.vectors.count()
    print(
        f"  seeded {counts['created']} articles, {chunks} chunks in {elapsed:.1f} s: "
        f"{chunks / elapsed:.1f} chunks/s ({elapsed / len(articles):.2f} s/article; "
        "chunk, embed, store)"
    )
    started = time.perf_counter()
    again = container.knowledge.seed_global(articles, owner_id=None)
    print(
        f"  seeding again: {again['unchanged']} unchanged in "
        f"{time.perf_counter() - started:.2f} s (nothing re-embedded)"
    )
    with container.database.session() as session:
        rows = session.execute(
            select(KnowledgeDocument.document_id, KnowledgeDocument.slug).where(
                KnowledgeDocument.scope == Scope.GLOBAL.value
            )
        ).all()
    return {document_id: slug for document_id, slug in rows if slug}


def ask(container: Container, slugs: dict[str, str], question: Question, mode: Mode) -> Answer:
    embedder = container.embedder
    if isinstance(embedder, CachedEmbedder):
        container.kv.delete(embedder.key(question.text))  # a first question: no cached vector
    request = SearchRequest(query=question.text, scopes=[Scope.GLOBAL], k=K)
    started = time.perf_counter()
    response = container.knowledge.search(READER, request, mode=mode)
    elapsed = time.perf_counter() - started
    ranked = list(dict.fromkeys(slugs.get(hit.document_id, "?") for hit in response.items))
    return Answer(question, ranked, elapsed)


def report(mode: str, answers: list[Answer]) -> None:
    ranks = [a.rank for a in answers]
    total = len(answers)
    at_1 = sum(r is not None and r <= 1 for r in ranks) / total
    at_5 = sum(r is not None and r <= 5 for r in ranks) / total
    mrr = sum(1 / r for r in ranks if r is not None and r <= K) / total
    times = sorted(a.seconds * 1000 for a in answers)
    print(
        f"  {mode:<8} {total:>4}  {at_1:9.3f}  {at_5:9.3f}  {mrr:7.3f}  "
        f"{statistics.fmean(times):8.1f}  {percentile(times, 0.95):7.1f}"
    )


def print_misses(answers: list[Answer]) -> None:
    misses = [a for a in answers if a.rank is None or a.rank > 5]
    if not misses:
        print("  none")
        return
    for answer in misses:
        first = answer.ranked_slugs[0] if answer.ranked_slugs else "(no hits)"
        where = f"rank {answer.rank}" if answer.rank else f"not in top {K}"
        text = answer.question.text
        text = text if len(text) <= 90 else text[:87] + "..."
        print(f"  - {text}")
        print(f"      expected {answer.question.expected} ({where}); first: {first}")


def main() -> int:
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    questions = load_questions()
    results: dict[str, list[Answer]] = {}
    with embedded_stores() as stores:
        container = build(stores)
        try:
            header("seeding the global KB (all-MiniLM-L6-v2, pgvector)")
            slugs = seed(container)
            for mode in MODES:
                ask(container, slugs, questions[0], mode)  # first query plans and connects
                results[mode] = []
            # Modes take turns question by question, so a burst of load on a shared
            # machine slows all of them alike.
            for question in questions:
                for mode in MODES:
                    results[mode].append(ask(container, slugs, question, mode))
        finally:
            container.close()

    header(f"retrieval over {len(slugs)} articles, k={K}, document-level ranks")
    print(
        f"  {'mode':<8} {'n':>4}  {'recall@1':>9}  {'recall@5':>9}  {'MRR@10':>7}  "
        f"{'mean ms':>8}  {'p95 ms':>7}"
    )
    for mode in MODES:
        report(mode, results[mode])
    print(
        "  (latency: one search end to end in the service — the query is embedded every "
        "time (cache evicted), then pgvector and/or full-text queries, fusion and the "
        "access re-check)"
    )

    header("hybrid misses at 5 (question → expected; what came first)")
    print_misses(results["hybrid"])

    hybrid = results["hybrid"]
    at_5 = sum(a.rank is not None and a.rank <= 5 for a in hybrid) / len(hybrid)
    verdict = "met" if at_5 >= TARGET_RECALL_AT_5 else "NOT met"
    print(f"\ntarget hybrid recall@5 >= {TARGET_RECALL_AT_5:.2f}: {verdict} ({at_5:.3f})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
