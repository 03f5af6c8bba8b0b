"""The context builder packs whole units within the budget, and the answer's contract."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from faultmaven.agent.context import SourceRegistry, Unit, pack, query_text
from faultmaven.agent.models import AgentAnswer, ResponseType, SourceType
from faultmaven.agent.shaping import STRUCTURED_DATA


def units(registry: SourceRegistry, prefix: str, sizes: list[int]) -> list[Unit]:
    out = []
    for index, size in enumerate(sizes):
        source = registry.add(f"{prefix}{index}#digest", SourceType.CASE_EVIDENCE, "f", "s", {})
        line = f"[{source.handle}] fact {prefix}{index} " + "x" * size
        short = f"[{source.handle}] short {prefix}{index}" if prefix == "e" else None
        out.append(
            Unit(
                f"{'evidence' if prefix == 'e' else 'knowledge'}:{prefix}{index}",
                line,
                short,
                [source],
            )
        )
    return out


@pytest.mark.parametrize("seed", range(20))
def test_packing_respects_the_budget_and_never_cuts_a_unit(seed: int) -> None:
    rng = random.Random(seed)
    registry = SourceRegistry()
    evidence = units(registry, "e", [rng.randint(10, 4000) for _ in range(rng.randint(0, 8))])
    knowledge = units(registry, "k", [rng.randint(10, 3000) for _ in range(rng.randint(0, 8))])
    budget = rng.choice([2_000, 4_000, 8_000])
    built = pack(
        fixed_tokens=900,
        budget_tokens=budget,
        query="why is checkout slow? " * rng.randint(1, 400),
        case=Unit("case", "Case case_1: Checkout"),
        memory="Running summary:\nthe pool" * rng.randint(0, 30),
        hypotheses=Unit("hypotheses", "- hyp_1 pool"),
        evidence=evidence,
        knowledge=knowledge,
        registry=registry,
    )
    assert built.tokens <= budget + 60  # the tag framing is estimated, not counted
    for unit in evidence + knowledge:
        name = unit.name
        if name in built.included:
            assert unit.full in built.text
        elif name in built.shortened:
            assert unit.short and unit.short in built.text and unit.full not in built.text
        else:
            assert name in built.dropped
            assert unit.full not in built.text
            # What was not shown cannot be cited.
            assert registry.resolve(unit.sources[0].handle) is None
    for handle, source in built.sources.items():
        assert registry.resolve(handle) is source


def test_a_long_query_is_cut_at_a_line_with_a_note() -> None:
    query = "\n".join(f"2026-12-01T10:00:{i % 60:02d}Z ERROR line {i}" for i in range(5000))
    text, cut = query_text(query, 8_000)
    assert cut and "more lines" in text
    kept = text.split("\n[The question continues")[0].splitlines()
    assert all(line in query.splitlines() for line in kept)


def test_registry_resolves_handles_and_ids_and_forgets() -> None:
    registry = SourceRegistry()
    source = registry.add("evd_1#digest", SourceType.LOG_FILE, "app.log", "x" * 1000, {})
    assert registry.add("evd_1#digest", SourceType.LOG_FILE, "app.log", "", {}) is source
    assert registry.resolve("S1") is source and registry.resolve("[s1]") is source
    assert registry.resolve("evd_1#digest") is source
    assert len(source.snippet) <= 300
    registry.forget([source])
    assert registry.resolve("S1") is None


def test_every_response_type_has_a_structured_data_shape() -> None:
    assert set(STRUCTURED_DATA) == set(ResponseType)
    assert len(ResponseType) == 17


@pytest.mark.parametrize("kind", ["STATUS_UPDATE", "GENERAL_RESPONSE", "MAYBE"])
def test_the_model_may_not_answer_with_the_turns_own_types(kind: str) -> None:
    with pytest.raises(ValidationError):
        AgentAnswer.model_validate({"response_type": kind, "content": "x"})


def test_evidence_requests_are_bounded() -> None:
    base = {"response_type": "NEEDS_MORE_DATA", "content": "x"}
    request = {"label": "logs", "description": "d", "category": "symptoms"}
    AgentAnswer.model_validate({**base, "evidence_requests": [{**request, "priority": 5}]})
    for bad in (
        {**request, "priority": 6},
        {**request, "priority": 0},
        {**request, "category": "vibes"},
        {**request, "guidance": {"steps": ["s"] * 6}},
    ):
        with pytest.raises(ValidationError):
            AgentAnswer.model_validate({**base, "evidence_requests": [bad]})
