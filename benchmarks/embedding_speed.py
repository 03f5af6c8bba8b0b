"""Local embedder speed: all-MiniLM-L6-v2 in numpy on chunk-sized texts, by batch size,
and the cold load of the model.

The texts are what the knowledge base indexes: ~500 chunks of 150-250 words of operations
prose (services, errors, identifiers, numbers), generated from a fixed seed so every run
embeds the same text. Ops text splits into many word pieces, so most chunks reach the
model's 256-token limit: these are close to worst-case figures per chunk. A set of short
sentences (queries, titles) is timed too, since search embeds those.

Cold load is measured in fresh interpreters (import of the module, then the first
`embed`, which reads the ~90 MB weights from the package's zip and prepares them).

Figures are printed, never asserted: machines differ, and a benchmark that fails a build
on a noisy laptop teaches people to ignore it.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time

from _support import clean_env, header

from faultmaven.adapters.embeddings import local

SEED = 20261122
CHUNKS = 500
BATCH_SIZES = (1, 16, 32, 64)
COLD_RUNS = 3
SLICE = 100  # texts per timed embed call

_SERVICES = ("orders-api", "payments", "checkout", "auth-gateway", "inventory", "search")
_TERMS = (
    *("latency", "p99", "timeout", "connection", "pool", "exhausted", "postgres", "replica"),
    *("lag", "kafka", "consumer", "partition", "rebalance", "queue", "depth", "backoff"),
    *("pod", "node", "kubelet", "OOMKilled", "CrashLoopBackOff", "memory", "limit", "cpu"),
    *("throttling", "deploy", "rollback", "canary", "nginx", "upstream", "502", "retry"),
    *("TLS", "certificate", "expired", "DNS", "resolution", "failed", "disk", "full", "inode"),
    *("redis", "eviction", "cache", "miss", "circuit", "breaker", "open", "alert", "SLO"),
    *("error", "budget", "burn", "rate", "runbook", "on-call", "incident", "mitigated"),
)
_GLUE = ("the", "a", "after", "because", "while", "then", "and", "was", "were", "on", "in")
_SHORT = (
    "why is checkout returning 502",
    "postgres connection pool exhausted",
    "kafka consumer lag growing on partition 7",
    "pod OOMKilled after deploy",
    "TLS certificate expired on the ingress",
    "redis evicting keys under memory pressure",
)


def _token(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return f"{rng.choice(_SERVICES)}-{rng.randint(1, 40)}"
    if roll < 0.14:
        return str(rng.choice((rng.randint(1, 65535), round(rng.uniform(0, 999), 2))))
    if roll < 0.40:
        return rng.choice(_GLUE)
    return rng.choice(_TERMS)


def chunk_texts(seed: int = SEED, count: int = CHUNKS) -> list[str]:
    """`count` chunks of 150-250 words, in sentences of 6-18 words."""
    rng = random.Random(seed)
    chunks = []
    for _ in range(count):
        words = rng.randint(150, 250)
        sentences = []
        while words > 0:
            length = min(words, rng.randint(6, 18))
            sentence = " ".join(_token(rng) for _ in range(length))
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            words -= length
        chunks.append(" ".join(sentences))
    return chunks


_COLD_PROBE = """
import json, time
t0 = time.perf_counter()
from faultmaven.adapters.embeddings.local import LocalEmbedder
t1 = time.perf_counter()
embedder = LocalEmbedder()
embedder.embed(["warm-up"])
t2 = time.perf_counter()
embedder.embed(["warm-up"])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2}))
"""


def bench_cold_load() -> None:
    runs = []
    for _ in range(COLD_RUNS):
        completed = subprocess.run(
            [sys.executable, "-c", _COLD_PROBE],
            check=True,
            capture_output=True,
            text=True,
            env=clean_env({}),
        )
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    imports = statistics.median(r["import"] for r in runs)
    first = statistics.median(r["first"] for r in runs)
    warm = statistics.median(r["warm"] for r in runs)
    print(f"  import of the module:          {imports * 1000:7.0f} ms")
    print(f"  first embed (loads the model): {first * 1000:7.0f} ms")
    print(f"  second embed of the same text: {warm * 1000:7.1f} ms")
    print(
        f"  model load ≈ first - second:   {(first - warm) * 1000:7.0f} ms  (median of {COLD_RUNS})"
    )


def _describe(texts: list[str]) -> None:
    # Private on purpose: only the benchmark needs token counts before truncation.
    ids = local._shared_encoder().token_ids(texts, max_tokens=10**9)
    tokens = sorted(len(i) for i in ids)
    words = [len(t.split()) for t in texts]
    capped = sum(n > local.MAX_TOKENS for n in tokens)
    print(
        f"  {len(texts)} texts, {statistics.median(words):.0f} words and "
        f"{statistics.median(tokens):.0f} tokens median (before the {local.MAX_TOKENS}-token cut; "
        f"{capped / len(texts):.0%} cut)"
    )


def bench_batches(texts: list[str]) -> None:
    """Every batch size embeds the same slices, slice by slice in turn, so a burst of
    load from another process lands on all of them rather than skewing one; the best
    slice is the figure for a quiet machine."""
    local.LocalEmbedder().embed(texts[:8])  # load and warm up outside the timings
    _describe(texts)
    seconds: dict[int, list[float]] = {size: [] for size in BATCH_SIZES}
    slices = [texts[i : i + SLICE] for i in range(0, len(texts), SLICE)]
    for part in slices:
        for batch_size in BATCH_SIZES:
            embedder = local.LocalEmbedder(batch_size=batch_size)
            started = time.perf_counter()
            embedder.embed(part)
            seconds[batch_size].append((time.perf_counter() - started) / len(part))
    print(f"  {'batch size':>10}  {'texts/s':>8}  {'ms/text':>8}  {'best slice':>10}")
    for batch_size, per_text in seconds.items():
        mean = statistics.fmean(per_text)
        print(
            f"  {batch_size:>10}  {1 / mean:8.1f}  {mean * 1000:8.1f}  "
            f"{min(per_text) * 1000:7.1f} ms"
        )
    print(f"  ({len(slices)} slices of {SLICE} texts per batch size)")


def bench_short(count: int = 500) -> None:
    rng = random.Random(SEED)
    queries = [f"{rng.choice(_SHORT)} {rng.choice(_SERVICES)}" for _ in range(count)]
    _describe(queries)
    embedder = local.LocalEmbedder()
    started = time.perf_counter()
    embedder.embed(queries)
    elapsed = time.perf_counter() - started
    print(f"  batch size 32: {count / elapsed:.0f} texts/s, {elapsed / count * 1000:.1f} ms/text")
    started = time.perf_counter()
    for query in queries[:50]:
        embedder.embed([query])
    alone = (time.perf_counter() - started) / 50
    print(f"  one at a time (a search query): {alone * 1000:.1f} ms/text")


def main() -> int:
    print(f"cpus: {os.cpu_count()}")
    header("cold load of all-MiniLM-L6-v2 (fresh interpreters)")
    bench_cold_load()
    header(f"chunks: {CHUNKS} texts of 150-250 words")
    bench_batches(chunk_texts())
    header("short texts: search queries")
    bench_short()
    return 0


if __name__ == "__main__":
    sys.exit(main())
