"""What the case domain announces (see `core.events`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CaseDeleted:
    """A case was soft-deleted: whatever is kept about it elsewhere (its working memory
    in the vector store) must go too."""

    case_id: str
