"""The context builder: the facts a turn puts in front of the model, within a token budget.

Retrieval comes first: before the first model call the case header, the memory, the
hypotheses and solutions, a digest of every evidence file and the knowledge chunks most
relevant to the query are packed, by priority, into the input budget. Tools exist for
going deeper, not for finding the obvious.

Packing never cuts a fact in half. Every part is a *unit* with a full form and, for an
evidence digest, a short form (its summary without the insights); a unit that does not
fit in full is shortened, and one that fits in neither form is dropped whole. What was
shortened or dropped is reported, and the turn records it in the history.

Every piece of evidence or knowledge shown carries a handle (`S1`, `S2`, …) and a source
id (`<evidence id>#digest`, `<document id>#<chunk id>`); the model cites either, and a
citation of anything not shown is a hallucination the turn drops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultmaven.agent.memory import cap
from faultmaven.agent.models import SourceType
from faultmaven.cases.models import CaseOut, HypothesisOut, SolutionOut
from faultmaven.core.terms import overlap
from faultmaven.core.tokens import estimate_text_tokens
from faultmaven.evidence.models import EvidenceOut
from faultmaven.knowledge.models import SearchHit
from faultmaven.llm.redaction import redact_text

SNIPPET_CHARS = 300
# The query may take at most this share of the budget; a longer one (a pasted log) is
# cut at a line boundary with a note, and stays whole in the case's messages.
QUERY_SHARE = 0.35
HYPOTHESES_SHOWN = 12
SOLUTIONS_SHOWN = 6


@dataclass
class ContextSource:
    handle: str
    source_id: str
    type: SourceType
    title: str
    snippet: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Unit:
    """One part of the prompt that is included whole, shortened whole or dropped whole."""

    name: str
    full: str
    short: str | None = None
    sources: list[ContextSource] = field(default_factory=list)


@dataclass
class BuiltContext:
    text: str
    tokens: int
    sources: dict[str, ContextSource]
    included: list[str]
    shortened: list[str]
    dropped: list[str]
    query_cut: bool

    def report(self) -> dict[str, Any]:
        return {
            "estimated_tokens": self.tokens,
            "included": self.included,
            "shortened": self.shortened,
            "dropped": self.dropped,
            "query_cut": self.query_cut,
            "sources": len(self.sources),
        }


class SourceRegistry:
    """The sources shown to the model in this turn, by handle and by source id."""

    def __init__(self) -> None:
        self._by_handle: dict[str, ContextSource] = {}
        self._by_id: dict[str, ContextSource] = {}

    def add(
        self,
        source_id: str,
        type_: SourceType,
        title: str,
        snippet: str,
        metadata: dict[str, Any],
    ) -> ContextSource:
        known = self._by_id.get(source_id)
        if known is not None:
            return known
        source = ContextSource(
            handle=f"S{len(self._by_handle) + 1}",
            source_id=source_id,
            type=type_,
            title=title,
            # Snippets are shown, stored in the memory and appended to hypotheses: a
            # runbook's password must not travel with them.
            snippet=cap(redact_text(snippet[: SNIPPET_CHARS * 4]), SNIPPET_CHARS),
            metadata=metadata,
        )
        self._by_handle[source.handle] = source
        self._by_id[source_id] = source
        return source

    def resolve(self, reference: str) -> ContextSource | None:
        ref = reference.strip().strip("[]")
        return self._by_handle.get(ref.upper()) or self._by_id.get(ref)

    def forget(self, sources: Iterable[ContextSource]) -> None:
        """Sources of a dropped unit were never shown: citing them is a hallucination."""
        for source in sources:
            self._by_handle.pop(source.handle, None)
            self._by_id.pop(source.source_id, None)

    def all(self) -> dict[str, ContextSource]:
        return dict(self._by_handle)


def evidence_source_type(data_type: str | None) -> SourceType:
    return SourceType.LOG_FILE if data_type == "logs_and_errors" else SourceType.CASE_EVIDENCE


def hit_source(registry: SourceRegistry, hit: SearchHit) -> ContextSource:
    if hit.scope.value == "case":
        type_ = SourceType.CASE_EVIDENCE
        kind = "evidence"
    elif hit.scope.value == "global":
        type_ = SourceType.DOCUMENTATION
        kind = "global knowledge base"
    else:
        type_ = SourceType.KNOWLEDGE_BASE
        kind = "knowledge base"
    return registry.add(
        f"{hit.document_id}#{hit.chunk_id}",
        type_,
        hit.title,
        hit.text,
        {
            "document_id": hit.document_id,
            "chunk_id": hit.chunk_id,
            "scope": hit.scope.value,
            "kind": kind,
            "score": hit.score,
            "heading_path": hit.heading_path,
            # The embedding similarity when the vector half found it; a keyword-only hit
            # (RRF score only) is scored as its share of the best fused score, 2 / (60 + 1).
            "confidence": round(
                hit.similarity if hit.similarity is not None else min(1.0, hit.score / (2 / 61)),
                3,
            ),
        },
    )


def case_unit(case: CaseOut) -> Unit:
    lines = [
        f"Case {case.case_id}: {case.title}",
        f"status: {case.status.value}; priority: {case.priority.value}; "
        f"tags: {', '.join(case.tags) or 'none'}",
    ]
    if case.description:
        lines.append(f"description: {cap(case.description, 1500)}")
    return Unit("case", "\n".join(lines))


def hypotheses_unit(
    hypotheses: Sequence[HypothesisOut],
    solutions: Sequence[SolutionOut],
    open_requests: Sequence[str] = (),
) -> Unit:
    open_first = sorted(
        hypotheses,
        key=lambda h: (h.status.value not in ("active", "captured"), -h.likelihood),
    )[:HYPOTHESES_SHOWN]
    lines: list[str] = []
    for h in open_first:
        lines.append(
            f"- {h.hypothesis_id} [{h.status.value}, likelihood {h.likelihood:.2f}, "
            f"{h.category.value}] {h.statement} (supporting {len(h.supporting_evidence)}, "
            f"refuting {len(h.refuting_evidence)})"
        )
    for s in list(solutions)[-SOLUTIONS_SHOWN:]:
        lines.append(
            f"- solution {s.solution_id} [{s.status.value}, {s.category.value}, risk "
            f"{s.risk_level.value}] {s.title}"
        )
    lines += [f"- open evidence request {r}" for r in open_requests]
    if not lines:
        return Unit("hypotheses", "No hypotheses, solutions or evidence requests yet.")
    return Unit("hypotheses", "\n".join(lines))


def evidence_units(
    registry: SourceRegistry, evidence: Sequence[EvidenceOut], query_terms: set[str]
) -> list[Unit]:
    """One unit per file, most relevant to the query first (then the newest)."""
    ranked = sorted(
        enumerate(evidence),
        key=lambda pair: (
            -overlap(
                query_terms,
                f"{pair[1].filename} {pair[1].summary or ''} " + " ".join(pair[1].insights),
            ),
            -pair[0],
        ),
    )
    units: list[Unit] = []
    for _, item in ranked:
        if item.status.value != "completed":
            state = item.status.value
            if item.failure_reason:
                state += f": {cap(item.failure_reason, 200)}"
            units.append(
                Unit(
                    f"evidence:{item.evidence_id}",
                    f"- {item.filename} ({item.evidence_id}): {state}",
                )
            )
            continue
        source = registry.add(
            f"{item.evidence_id}#digest",
            evidence_source_type(item.data_type.value if item.data_type else None),
            item.filename,
            item.summary or "",
            {
                "evidence_id": item.evidence_id,
                "filename": item.filename,
                "data_type": item.data_type.value if item.data_type else None,
                "confidence": 0.9,  # the analyzer's digest of the file, not the file itself
            },
        )
        head = (
            f'[{source.handle}] evidence {item.evidence_id} "{item.filename}" '
            f"({item.data_type.value if item.data_type else 'unknown'}, "
            f"{item.size_bytes or 0} bytes)"
        )
        summary = f"summary: {item.summary or '(none)'}"
        insights = "\n".join(f"  - {i}" for i in item.insights)
        full = f"{head}\n{summary}" + (f"\ninsights:\n{insights}" if insights else "")
        units.append(
            Unit(f"evidence:{item.evidence_id}", full, short=f"{head}\n{summary}", sources=[source])
        )
    return units


def knowledge_units(registry: SourceRegistry, hits: Sequence[SearchHit]) -> list[Unit]:
    units: list[Unit] = []
    for hit in hits:
        source = hit_source(registry, hit)
        where = " > ".join(hit.heading_path)
        kind = source.metadata["kind"]
        head = f'[{source.handle}] {kind} "{hit.title}"' + (f" — {where}" if where else "")
        units.append(
            Unit(f"knowledge:{source.source_id}", f"{head}\n{hit.text.strip()}", sources=[source])
        )
    return units


def interleave(first: list[Unit], second: list[Unit]) -> list[Unit]:
    out: list[Unit] = []
    for index in range(max(len(first), len(second))):
        if index < len(first):
            out.append(first[index])
        if index < len(second):
            out.append(second[index])
    return out


def query_text(query: str, budget_tokens: int) -> tuple[str, bool]:
    limit = int(budget_tokens * QUERY_SHARE)
    if estimate_text_tokens(query) <= limit:
        return query, False
    kept: list[str] = []
    used = 0
    lines = query.splitlines()
    for line in lines:
        cost = estimate_text_tokens(line) + 1
        if used + cost > limit:
            break
        kept.append(line)
        used += cost
    if not kept:  # one enormous line: whole words
        kept = [cap(query, int(limit * 3))]
    left = len(lines) - len(kept)
    note = (
        f"\n[The question continues for {left} more lines ({len(query)} characters in all); "
        "the whole text is stored with the case. Ask for the part you need.]"
    )
    return "\n".join(kept) + note, True


def pack(
    *,
    fixed_tokens: int,
    budget_tokens: int,
    query: str,
    case: Unit,
    memory: str,
    hypotheses: Unit,
    evidence: list[Unit],
    knowledge: list[Unit],
    registry: SourceRegistry,
    extra: str = "",
) -> BuiltContext:
    """The first user message: the units by priority within the budget left after the
    system prompt and tool definitions (`fixed_tokens`)."""
    question, query_cut = query_text(query, budget_tokens)
    blocks: dict[str, list[str]] = {
        "case": [case.full],
        "memory": [],
        "hypotheses": [],
        "evidence": [],
        "knowledge": [],
    }
    included = ["case", "query"]
    shortened: list[str] = []
    dropped: list[str] = []
    used = fixed_tokens + estimate_text_tokens(case.full + question + extra) + 60
    memory_tokens = estimate_text_tokens(memory)
    if memory and used + memory_tokens <= budget_tokens:
        blocks["memory"].append(memory)
        used += memory_tokens
        included.append("memory")
    elif memory:
        dropped.append("memory")
    hyp_tokens = estimate_text_tokens(hypotheses.full)
    if used + hyp_tokens <= budget_tokens:
        blocks["hypotheses"].append(hypotheses.full)
        used += hyp_tokens
        included.append("hypotheses")
    else:
        dropped.append("hypotheses")
    for unit in interleave(evidence, knowledge):
        target = "evidence" if unit.name.startswith("evidence:") else "knowledge"
        full = estimate_text_tokens(unit.full) + 2
        if used + full <= budget_tokens:
            blocks[target].append(unit.full)
            used += full
            included.append(unit.name)
            continue
        if unit.short is not None:
            short = estimate_text_tokens(unit.short) + 2
            if used + short <= budget_tokens:
                blocks[target].append(unit.short)
                used += short
                shortened.append(unit.name)
                continue
        dropped.append(unit.name)
        registry.forget(unit.sources)
    parts = [f"<case>\n{blocks['case'][0]}\n</case>"]
    if blocks["memory"]:
        parts.append(f"<memory>\n{blocks['memory'][0]}\n</memory>")
    if blocks["hypotheses"]:
        parts.append(f"<hypotheses>\n{blocks['hypotheses'][0]}\n</hypotheses>")
    parts.append(
        "<evidence>\n"
        + ("\n".join(blocks["evidence"]) or "No evidence uploaded yet.")
        + "\n</evidence>"
    )
    parts.append(
        "<knowledge>\n"
        + ("\n\n".join(blocks["knowledge"]) or "No relevant knowledge-base articles found.")
        + "\n</knowledge>"
    )
    if extra:
        parts.append(extra)
    parts.append(f"<question>\n{question}\n</question>")
    text = "\n".join(parts)
    return BuiltContext(
        text=text,
        tokens=fixed_tokens + estimate_text_tokens(text),
        sources=registry.all(),
        included=included,
        shortened=shortened,
        dropped=dropped,
        query_cut=query_cut,
    )
