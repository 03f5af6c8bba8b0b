"""Embeddings cached in the real Redis by model, dimension and content hash."""

from __future__ import annotations

from collections.abc import Sequence

from faultmaven.adapters.embeddings.local import LocalEmbedder
from faultmaven.container import Container
from faultmaven.core.vectors import IndexSpec
from faultmaven.knowledge.embedding_cache import CachedEmbedder


class Counting:
    """The real local model, counting the texts it is asked to embed."""

    def __init__(self, model: LocalEmbedder, spec: IndexSpec | None = None) -> None:
        self._model = model
        self._spec = spec or model.spec
        self.texts: list[str] = []

    @property
    def spec(self) -> IndexSpec:
        return self._spec

    @property
    def batch_size(self) -> int:
        return 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self._model.embed(texts)


def test_each_distinct_text_is_embedded_once(container: Container) -> None:
    model = LocalEmbedder()
    counting = Counting(model)
    cached = CachedEmbedder(counting, container.kv, ttl_seconds=60)
    texts = ["disk full on /var", "inode exhaustion", "disk full on /var", "clock skew"]
    first = cached.embed(texts)
    assert counting.texts == ["disk full on /var", "inode exhaustion", "clock skew"]
    again = cached.embed(list(reversed(texts)))
    assert len(counting.texts) == 3  # all from Redis
    assert again == list(reversed(first))
    direct = model.embed(["inode exhaustion"])[0]
    assert max(abs(a - b) for a, b in zip(first[1], direct, strict=True)) < 1e-6
    assert 0 < container.kv.ttl(cached.key("clock skew")) <= 60


def test_models_do_not_share_entries_and_damage_is_a_miss(container: Container) -> None:
    model = LocalEmbedder()
    one = Counting(model)
    other = Counting(model, IndexSpec("another-model", 384))
    CachedEmbedder(one, container.kv, ttl_seconds=60).embed(["tls expired"])
    second = CachedEmbedder(other, container.kv, ttl_seconds=60)
    second.embed(["tls expired"])
    assert other.texts == ["tls expired"]
    container.kv.put(second.key("dns"), "not base64 !!", 60)
    assert len(second.embed(["dns"])[0]) == 384
    assert other.texts[-1] == "dns"


def test_a_zero_ttl_turns_the_cache_off(container: Container) -> None:
    counting = Counting(LocalEmbedder())
    cached = CachedEmbedder(counting, container.kv, ttl_seconds=0)
    cached.embed(["oom"])
    cached.embed(["oom"])
    assert counting.texts == ["oom", "oom"]


def test_an_unreachable_cache_only_costs_recomputation() -> None:
    """The real Redis adapter pointed at a closed port: embedding still works."""
    from faultmaven.adapters.redis import RedisKeyValueStore

    broken = RedisKeyValueStore.from_url("redis://127.0.0.1:1/0")
    counting = Counting(LocalEmbedder())
    cached = CachedEmbedder(counting, broken, ttl_seconds=60)
    assert len(cached.embed(["pods pending"])[0]) == 384
    assert counting.texts == ["pods pending"]
