"""The vocabulary shared by the vector store and embedder ports.

Access travels with every chunk as a set of *reader tokens* and every search names the
tokens of its caller, so a backend enforces access with one set-overlap predicate inside
the query, the same way in PostgreSQL (`text[] && text[]`) and OpenSearch (`terms`):

- `user:<user_id>`   the owner and users a document is shared with
- `team:<team_id>`   members of a team (team visibility or a share to the team)
- `org:<org_id>`     members of an organization
- `case:<case_id>`   a case's working memory; the service adds this token to a query
                     only after it has checked that the caller may read the case
- `*`                the global knowledge base: every signed-in user
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    """Which knowledge base a chunk belongs to."""

    CASE = "case"
    USER = "user"
    GLOBAL = "global"


EVERYONE = "*"


def user_token(user_id: str) -> str:
    return f"user:{user_id}"


def team_token(team_id: str) -> str:
    return f"team:{team_id}"


def org_token(org_id: str) -> str:
    return f"org:{org_id}"


def case_token(case_id: str) -> str:
    return f"case:{case_id}"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """Which embedding model produced an index's vectors. Vectors of two models are not
    comparable, so an index refuses any other spec than the one it was built with."""

    model: str
    dimension: int


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One searchable piece of a document (a KB article or a piece of evidence)."""

    chunk_id: str
    document_id: str
    scope: Scope
    ordinal: int
    text: str
    embedding: Sequence[float]
    readers: frozenset[str]
    title: str = ""
    heading_path: tuple[str, ...] = ()
    source: str = ""
    tags: tuple[str, ...] = ()
    owner_id: str | None = None
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a search may return: chunks of one of `scopes` sharing at least one reader
    token with `readers`, optionally narrowed to documents or tags (any of them)."""

    scopes: frozenset[Scope]
    readers: frozenset[str]
    document_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def admits(self, hit: VectorHit) -> bool:
        """The same predicate the backends evaluate, for re-checking what they return."""
        return (
            hit.scope in self.scopes
            and not self.readers.isdisjoint(hit.readers)
            and (not self.document_ids or hit.document_id in self.document_ids)
            and (not self.tags or not self.tags.isdisjoint(hit.tags))
        )


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A search result: the chunk without its vector, and a score where higher is better
    (cosine similarity for vector search, the backend's text relevance for keywords)."""

    chunk_id: str
    document_id: str
    scope: Scope
    ordinal: int
    text: str
    score: float
    readers: frozenset[str]
    title: str = ""
    heading_path: tuple[str, ...] = ()
    source: str = ""
    tags: tuple[str, ...] = ()
    owner_id: str | None = None
    case_id: str | None = None
    indexed_at: datetime | None = field(default=None, compare=False)


class IndexMismatchError(RuntimeError):
    """The index holds vectors of another model or dimension than the embedder's."""
