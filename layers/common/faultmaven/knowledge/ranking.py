"""Reciprocal rank fusion of the vector and full-text result lists.

The two rankings have incomparable scores (cosine similarity vs. text relevance), so RRF
uses only ranks: a chunk scores sum(1 / (K + rank)) over the lists it appears in. K = 60
is the constant of Cormack et al. (2009), which damps the difference between ranks 1 and
2 so that agreement between the lists beats a single first place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faultmaven.core.vectors import VectorHit

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Ranked:
    hit: VectorHit
    score: float
    similarity: float | None


def fuse(vector_hits: Sequence[VectorHit], keyword_hits: Sequence[VectorHit]) -> list[Ranked]:
    scores: dict[str, float] = {}
    hits: dict[str, VectorHit] = {}
    similarity: dict[str, float] = {}
    for ranking, is_vector in ((vector_hits, True), (keyword_hits, False)):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            hits.setdefault(hit.chunk_id, hit)
            if is_vector:
                similarity[hit.chunk_id] = hit.score
    order = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))
    return [Ranked(hits[c], scores[c], similarity.get(c)) for c in order]


def only(hits: Sequence[VectorHit], *, is_vector: bool) -> list[Ranked]:
    """One list on its own, in its own order (vector-only or keyword-only retrieval)."""
    return [Ranked(h, h.score, h.score if is_vector else None) for h in hits]
