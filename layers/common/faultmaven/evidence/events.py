"""What the evidence domain announces (see `core.events`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EvidenceChunksStored:
    """An evidence's sanitized pieces replaced its old ones in PostgreSQL (the truth of
    the case's working memory); a listener that fails makes the pipeline step fail and
    retry."""

    case_id: str
    evidence_id: str
    source: str
    chunks: tuple[tuple[str, str], ...]  # (chunk_id, text)


@dataclass(frozen=True, slots=True)
class EvidenceDeleted:
    """An evidence row is gone (committed): derived copies must go too."""

    evidence_id: str


@dataclass(frozen=True, slots=True)
class CaseMemoryExpired:
    """Retention is deleting a closed case's chunks created at or before
    `indexed_before`; published before the deletion commits, so a listener that fails
    leaves the chunks for the next run."""

    case_id: str
    indexed_before: datetime


@dataclass(frozen=True, slots=True)
class EvidenceProcessed:
    """An evidence finished preprocessing (committed): what it is and what it showed,
    for the investigation to match against the evidence it asked for."""

    case_id: str
    evidence_id: str
    filename: str
    data_type: str | None
    summary: str
    insights: tuple[str, ...]
    uploaded_by: str | None = None
