"""Embeddings cached by content hash.

Re-saving a runbook changes one section; re-seeding the global KB changes nothing; the
same question is asked by a whole team during an incident. Each of those would pay the
model again (seconds locally, a Bedrock call each on AWS) without this cache. Entries are
keyed by model, dimension and the SHA-256 of the text, so two models never share one,
and live in Redis with an expiry: a lost cache only costs recomputation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from array import array
from collections.abc import Sequence

from faultmaven.core.logging import logger
from faultmaven.core.ports import Embedder, KeyValueStore
from faultmaven.core.vectors import IndexSpec


class CachedEmbedder:
    def __init__(self, embedder: Embedder, kv: KeyValueStore, *, ttl_seconds: int) -> None:
        self._embedder = embedder
        self._kv = kv
        self._ttl = ttl_seconds
        spec = embedder.spec
        self._prefix = f"emb:{spec.model}:{spec.dimension}:"

    @property
    def spec(self) -> IndexSpec:
        return self._embedder.spec

    @property
    def batch_size(self) -> int:
        return self._embedder.batch_size

    def key(self, text: str) -> str:
        return self._prefix + hashlib.sha256(text.encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._ttl == 0:
            return self._embedder.embed(texts)
        keys = [self.key(t) for t in texts]
        try:
            cached = self._kv.get_many(keys)
        except Exception as exc:  # the cache is an optimization: never a reason to fail
            logger.warning("embedding cache unavailable", extra={"error": type(exc).__name__})
            return self._embedder.embed(texts)
        dimension = self.spec.dimension
        vectors: list[list[float] | None] = [_decode(v, dimension) for v in cached]
        missing = list(dict.fromkeys(t for t, v in zip(texts, vectors, strict=True) if v is None))
        computed: dict[str, list[float]] = {}
        size = max(1, self._embedder.batch_size)
        for start in range(0, len(missing), size):
            batch = missing[start : start + size]
            for text, vector in zip(batch, self._embedder.embed(batch), strict=True):
                computed[text] = vector
                with contextlib.suppress(Exception):  # a cache that cannot store: a miss later
                    self._kv.put(self.key(text), _encode(vector), self._ttl)
        return [
            vector if vector is not None else computed[text]
            for text, vector in zip(texts, vectors, strict=True)
        ]


def _encode(vector: Sequence[float]) -> str:
    return base64.b64encode(array("f", vector).tobytes()).decode()


def _decode(value: str | None, dimension: int) -> list[float] | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None  # a damaged entry is a miss, not an error
    if len(raw) != 4 * dimension:
        return None
    values = array("f")
    values.frombytes(raw)
    return values.tolist()
