"""Hierarchical memory: tiers, bounded rendering, and what survives a long case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from faultmaven.agent import memory as mem
from faultmaven.core.tokens import estimate_text_tokens


def record(turn: int, answer: str | None = None, query: str | None = None) -> mem.TurnRecord:
    return mem.TurnRecord(
        turn=turn,
        at=datetime(2026, 12, 1, tzinfo=UTC),
        query=query or f"question {turn} about the checkout pool",
        answer=answer
        or f"Turn {turn}: the pool hit 50 active connections at 10:0{turn % 10}. Check leaks.",
        response_type="ANSWER",
        cited=[f"evd_{turn}#digest"],
        hypotheses=[f"hypothesis {turn}"] if turn % 4 == 0 else [],
    )


def grow(turns: int, **kwargs: str) -> mem.HierarchicalMemory:
    memory = mem.HierarchicalMemory()
    for turn in range(1, turns + 1):
        memory = mem.add_turn(
            memory,
            record(turn, **kwargs),
            cited_snippets={f"evd_{turn}#digest": f"snippet {turn}"},
        )
        if memory.should_compress(3):
            memory = mem.apply_compression(memory, mem.compress_deterministic(memory))
    return memory


def test_turns_move_from_hot_to_warm_to_cold() -> None:
    memory = grow(6)
    assert [t.turn for t in memory.hot] == [5, 6]
    assert [(s.first_turn, s.last_turn) for s in memory.warm] == [(2, 2), (3, 3), (4, 4)]
    assert memory.cold and all(f.startswith("(turn 1)") for f in memory.cold)
    assert memory.last_compression_turn == 6 and memory.running_summary


def test_add_turn_does_not_change_the_memory_it_is_given() -> None:
    before = grow(3)
    snapshot = before.model_dump()
    mem.add_turn(before, record(4), cited_snippets={})
    assert before.model_dump() == snapshot


@pytest.mark.parametrize("turns", [1, 5, 30, 200])
@pytest.mark.parametrize("size", [100, 5_000])
def test_rendered_memory_stays_within_its_budget(turns: int, size: int) -> None:
    long_answer = ("The pool is exhausted (active=50, waiting=212) after deploy 4.2.1. " * 80)[
        :size
    ]
    memory = grow(turns, answer=long_answer, query="why " * (size // 4))
    for budget in (1_200, 400):
        text = mem.render(memory, budget)
        assert estimate_text_tokens(text) <= budget
        assert text  # something is always kept
        # Whole lines only: every line is one that the unbounded rendering has.
        full = mem.render(memory, 1_000_000).splitlines()
        assert set(text.splitlines()) <= set(full) | {
            line for line in text.splitlines() if line.startswith("  agent (")
        }


def test_the_most_recent_turn_and_the_insights_survive_the_squeeze() -> None:
    memory = grow(40)
    text = mem.render(memory, 600)
    assert "turn 40 user" in text
    assert "Persistent insights:" in text


def test_cited_sources_are_remembered_most_recent_last_and_bounded() -> None:
    memory = grow(100)
    assert len(memory.cited_sources) == mem.CITED_SOURCES
    assert list(memory.cited_sources)[-1] == "evd_100#digest"


def test_key_facts_prefer_concrete_sentences() -> None:
    facts = mem.key_facts(
        record(7, answer="Hello there. The disk /var is 100% full since 03:12. Good luck.")
    )
    assert facts == ["(turn 7) The disk /var is 100% full since 03:12."]


def test_compression_is_due_every_n_turns_once() -> None:
    memory = mem.HierarchicalMemory(turn=3)
    assert memory.should_compress(3)
    assert not memory.model_copy(update={"last_compression_turn": 3}).should_compress(3)
    assert not mem.HierarchicalMemory(turn=4).should_compress(3)
