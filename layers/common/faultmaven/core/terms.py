"""The meaningful words of a text, for relevance by word overlap: the agent's context
ranking and offline analyst, and matching evidence to what was asked for. No model and
no dictionary: lowercased words, compounds (`checkout-api`, `pool.size`) also split into
their parts, stop words out, a light suffix strip."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9][a-z0-9_.:/-]{2,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "this",
        "that",
        "what",
        "why",
        "how",
        "are",
        "was",
        "were",
        "from",
        "have",
        "has",
        "not",
        "but",
        "you",
        "your",
        "our",
        "can",
        "could",
        "would",
        "should",
        "does",
        "did",
        "into",
        "onto",
        "about",
        "there",
        "their",
        "them",
        "they",
        "its",
        "it's",
        "all",
        "any",
        "why",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "been",
        "being",
        "than",
        "then",
        "also",
        "just",
        "only",
        "very",
    ]
)


_PARTS = re.compile(r"[-_./:]+")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    """A light suffix strip, so "requests", "timed" and "timeouts" meet "request",
    "time" and "timeout"; no dictionary, so it stays conservative."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def terms(text: str) -> set[str]:
    """The words of `text` that carry meaning: lowercased, compounds (`checkout-api`,
    `pool.size`) also split into their parts, stop words out, light stemming."""
    return set(_terms(text))


@lru_cache(maxsize=4_096)
def _terms(text: str) -> frozenset[str]:
    """Cached: a turn scores the same insights and chunks against several word sets,
    and the next turn of the case sees most of them again."""
    found: set[str] = set()
    for found_word in _WORD.findall(text.lower()):
        # "billing-worker:" or "pool.size." at a sentence's end is the compound itself.
        word = found_word.rstrip("_.:/-")
        for part in {word, *_PARTS.split(word)}:
            if len(part) >= 3 and part not in _STOP:
                found.add(_stem(part))
    return frozenset(found)


def overlap(query_terms: set[str], text: str) -> float:
    if not query_terms:
        return 0.0
    return len(query_terms & _terms(text)) / len(query_terms)
