"""Hierarchical memory: what the agent remembers of a case's conversation, in a bounded
number of tokens however long the case runs.

Tiers (FaultMaven's HierarchicalMemory): *hot* keeps the last 2 turns in full (capped),
*warm* keeps turns 3-5 as one-paragraph snapshots, *cold* keeps older turns as key facts
only, and *persistent insights* are always kept. A turn enters hot; the one it pushes out
becomes a warm snapshot; the snapshot pushed out of warm leaves its key facts in cold.
Every few turns a compression (by the model, or `compress_deterministic`) rewrites the
running summary and the persistent insights.

Cited sources are remembered by id with their snippet, so a fact the agent cited can be
found again after its turn has left the hot tier; the conversation itself stays in the
case's messages, which the `search_conversation` tool reads.

Everything here is pure: the store loads and saves the JSON, the service decides when.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from faultmaven.core.tokens import estimate_text_tokens

HOT_TURNS = 2
WARM_SNAPSHOTS = 3
COLD_FACTS = 24
PERSISTENT_INSIGHTS = 8
CITED_SOURCES = 40
HOT_QUERY_CHARS = 400
HOT_ANSWER_CHARS = 700
SNAPSHOT_CHARS = 320
FACT_CHARS = 160
SUMMARY_CHARS = 600
INSIGHT_CHARS = 200

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# A sentence worth keeping as a fact names something concrete: a number, an error word,
# a code identifier or a quoted value.
_CONCRETE = re.compile(
    r"\d|error|exception|fail|timeout|refused|denied|exhaust|oom|kill|expired|full|lag|"
    r"latency|[A-Za-z]+_[A-Za-z]|`[^`]+`|\"[^\"]+\"",
    re.IGNORECASE,
)


class TurnRecord(BaseModel):
    turn: int
    at: datetime
    query: str
    answer: str
    response_type: str
    cited: list[str] = Field(default_factory=list)
    hypotheses: list[str] = Field(default_factory=list)


class Snapshot(BaseModel):
    first_turn: int
    last_turn: int
    summary: str
    key_facts: list[str] = Field(default_factory=list)
    cited: list[str] = Field(default_factory=list)


class HierarchicalMemory(BaseModel):
    turn: int = 0
    running_summary: str = ""
    hot: list[TurnRecord] = Field(default_factory=list)
    warm: list[Snapshot] = Field(default_factory=list)
    cold: list[str] = Field(default_factory=list)
    persistent_insights: list[str] = Field(default_factory=list)
    cited_sources: dict[str, str] = Field(default_factory=dict)
    last_compression_turn: int = 0

    def should_compress(self, every: int) -> bool:
        return self.turn > 0 and self.turn % every == 0 and self.turn > self.last_compression_turn


def cap(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def key_facts(record: TurnRecord, limit: int = 3) -> list[str]:
    """The concrete sentences of an answer (numbers, errors, identifiers), the hypotheses
    it proposed, then its first sentence when nothing concrete was said."""
    facts = [f"hypothesis: {h}" for h in record.hypotheses]
    facts += [s for s in sentences(record.answer) if _CONCRETE.search(s)]
    if not facts:
        facts = sentences(record.answer)[:1]
    return [f"(turn {record.turn}) {cap(f, FACT_CHARS)}" for f in facts[:limit]]


def snapshot_of(record: TurnRecord) -> Snapshot:
    asked = cap(record.query, 120)
    said = " ".join(sentences(record.answer)[:2])
    return Snapshot(
        first_turn=record.turn,
        last_turn=record.turn,
        summary=cap(f"Asked: {asked} Answered ({record.response_type}): {said}", SNAPSHOT_CHARS),
        key_facts=key_facts(record),
        cited=record.cited[:5],
    )


def add_turn(
    memory: HierarchicalMemory,
    record: TurnRecord,
    *,
    cited_snippets: dict[str, str],
) -> HierarchicalMemory:
    """The memory after one more turn (a new object; `memory` is not changed)."""
    hot = [
        *memory.hot,
        record.model_copy(
            update={
                "query": cap(record.query, HOT_QUERY_CHARS),
                "answer": cap(record.answer, HOT_ANSWER_CHARS),
            }
        ),
    ]
    warm = list(memory.warm)
    cold = list(memory.cold)
    while len(hot) > HOT_TURNS:
        warm.append(snapshot_of(hot.pop(0)))
    while len(warm) > WARM_SNAPSHOTS:
        cold.extend(warm.pop(0).key_facts)
    cold = _dedupe(cold)[-COLD_FACTS:]
    cited = dict(memory.cited_sources)
    for source_id, snippet in cited_snippets.items():
        cited.pop(source_id, None)
        cited[source_id] = cap(snippet, FACT_CHARS)  # most recently cited last
    while len(cited) > CITED_SOURCES:
        cited.pop(next(iter(cited)))
    return memory.model_copy(
        update={
            "turn": max(memory.turn, record.turn),
            "hot": hot,
            "warm": warm,
            "cold": cold,
            "cited_sources": cited,
        }
    )


class Compression(BaseModel):
    running_summary: str = Field(min_length=1, max_length=SUMMARY_CHARS)
    persistent_insights: list[str] = Field(default_factory=list, max_length=PERSISTENT_INSIGHTS)


def compress_deterministic(memory: HierarchicalMemory) -> Compression:
    """A running summary from the snapshots and recent turns, and insights from the
    hypotheses and the facts cited most recently."""
    parts = [s.summary for s in memory.warm[-2:]] + [
        f"Turn {t.turn}: {cap(' '.join(sentences(t.answer)[:1]), 160)}" for t in memory.hot
    ]
    summary = cap(" ".join(parts) or "No conversation yet.", SUMMARY_CHARS)
    insights = list(memory.persistent_insights)
    for turn in memory.hot:
        insights.extend(f"hypothesis raised: {h}" for h in turn.hypotheses)
    insights.extend(f"cited {k}: {v}" for k, v in list(memory.cited_sources.items())[-3:])
    insights = [cap(i, INSIGHT_CHARS) for i in _dedupe(insights)][-PERSISTENT_INSIGHTS:]
    return Compression(running_summary=summary, persistent_insights=insights)


def apply_compression(memory: HierarchicalMemory, compression: Compression) -> HierarchicalMemory:
    return memory.model_copy(
        update={
            "running_summary": cap(compression.running_summary, SUMMARY_CHARS),
            "persistent_insights": [
                cap(i, INSIGHT_CHARS) for i in _dedupe(compression.persistent_insights)
            ][-PERSISTENT_INSIGHTS:],
            "last_compression_turn": memory.turn,
        }
    )


def render(memory: HierarchicalMemory, budget_tokens: int) -> str:
    """The memory as prompt text within `budget_tokens`. When it does not fit, the
    oldest cold facts go first, then warm snapshots lose their detail, then the oldest
    cited snippets, then the hot answers are shortened: never a fact cut in half."""
    cold = list(memory.cold)
    warm_detail = True
    cited = list(memory.cited_sources.items())[-8:]
    answer_chars = HOT_ANSWER_CHARS
    while True:
        text = _render(memory, cold, warm_detail, cited, answer_chars)
        if estimate_text_tokens(text) <= budget_tokens:
            return text
        if cold:
            cold.pop(0)
        elif warm_detail:
            warm_detail = False
        elif cited:
            cited.pop(0)
        elif answer_chars > 120:
            answer_chars //= 2
        else:
            return _fit(text, budget_tokens)


def _render(
    memory: HierarchicalMemory,
    cold: list[str],
    warm_detail: bool,
    cited: list[tuple[str, str]],
    answer_chars: int,
) -> str:
    if memory.turn == 0:
        return ""
    lines: list[str] = []
    if memory.running_summary:
        lines += ["Running summary:", memory.running_summary]
    if memory.persistent_insights:
        lines.append("Persistent insights:")
        lines += [f"- {i}" for i in memory.persistent_insights]
    if cold:
        lines.append("Older key facts:")
        lines += [f"- {f}" for f in cold]
    if memory.warm:
        lines.append("Earlier turns (summarised):")
        for snap in memory.warm:
            lines.append(f"- turns {snap.first_turn}: {snap.summary}")
            if warm_detail:
                lines += [f"  - {f}" for f in snap.key_facts]
    if cited:
        lines.append("Sources cited before:")
        lines += [f"- [{k}] {v}" for k, v in cited]
    if memory.hot:
        lines.append("Recent turns:")
        for turn in memory.hot:
            lines.append(f"- turn {turn.turn} user: {turn.query}")
            lines.append(f"  agent ({turn.response_type}): {cap(turn.answer, answer_chars)}")
    return "\n".join(lines)


def _fit(text: str, budget_tokens: int) -> str:
    """Whole lines from the top while they fit: the last resort of `render`."""
    kept: list[str] = []
    for line in text.splitlines():
        if estimate_text_tokens("\n".join([*kept, line])) > budget_tokens:
            break
        kept.append(line)
    return "\n".join(kept)


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.lower()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
