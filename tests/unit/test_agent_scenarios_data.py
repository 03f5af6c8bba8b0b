"""The agent scenario suite's data is self-consistent: enough incidents of different
kinds, facts that the question does not give away, scripts whose citations name files
the scenario uploads and whose final answer is a valid `give_answer` input, and evidence
files that are exactly what the generator writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultmaven.agent.models import AgentAnswer
from tests.llm_stubs import ToolCall
from tests.scenarios.agent import generate
from tests.scenarios.agent.runner import (
    KNOWLEDGE_DIR,
    Scenario,
    facts_found,
    load_all,
    prompt_text,
    substitute,
)

SCENARIOS = load_all()
IDS = [s.slug for s in SCENARIOS]


def test_the_suite_has_at_least_twelve_incidents_of_different_kinds() -> None:
    assert len(SCENARIOS) >= 12
    assert len({s.title for s in SCENARIOS}) == len(SCENARIOS)
    for required in (
        "db-pool-exhaustion",
        "oomkilled-pod",
        "dns-resolution-failure",
        "tls-cert-expiry",
        "disk-full",
        "bad-deploy",
        "kafka-consumer-lag",
        "thread-pool-starvation",
    ):
        assert required in IDS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_neither_the_question_nor_the_case_gives_a_fact_away(scenario: Scenario) -> None:
    """The question and the case header are in every prompt: a fact they carry would be
    "in context" whatever retrieval did."""
    assert len(scenario.facts) >= 4
    given = f"{scenario.question}\n{scenario.title}\n{scenario.description}".lower()
    assert [f for f in scenario.facts if f.lower() in given] == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_each_fact_occurs_in_the_scenarios_own_material(scenario: Scenario) -> None:
    """A fact nobody could retrieve would measure nothing: each occurs in an evidence
    file or a runbook of the scenario."""
    material = "\n".join(p.read_text(encoding="utf-8") for p in scenario.evidence)
    material += "\n".join(doc.content for doc in scenario.knowledge)
    assert [f for f in scenario.facts if f.lower() not in material.lower()] == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_the_script_ends_with_a_valid_answer_citing_uploaded_files(scenario: Scenario) -> None:
    ids = {path.name: f"evd_{index:04d}" for index, path in enumerate(scenario.evidence)}
    answers = scenario.answers(ids)
    final = answers[-1]
    assert isinstance(final, ToolCall)
    assert final.name == "give_answer"
    answer = AgentAnswer.model_validate(final.input)
    assert answer.hypotheses, "each scenario proposes a hypothesis the test looks for"
    assert scenario.cited_files
    assert scenario.cited_files <= set(ids)
    assert all(source.split("#")[0] in ids.values() for source in answer.cited_source_ids)
    for step in answers[:-1]:
        assert isinstance(step, ToolCall)
        assert step.name in {
            "read_evidence",
            "search_knowledge",
            "list_evidence",
            "get_case",
            "list_hypotheses",
        }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_evidence_sizes_are_realistic(scenario: Scenario) -> None:
    sizes = [p.stat().st_size for p in scenario.evidence]
    assert len(sizes) >= 2
    assert max(sizes) <= 210 * 1024
    assert not (scenario.path / KNOWLEDGE_DIR).is_file()


def test_the_committed_evidence_is_what_the_generator_writes(tmp_path: Path) -> None:
    generate.main(tmp_path)
    assert set(generate.SCENARIOS) == set(IDS)
    for scenario in SCENARIOS:
        written = {p.name: p.read_bytes() for p in (tmp_path / scenario.slug).iterdir()}
        committed = {p.name: p.read_bytes() for p in scenario.evidence if p.name in written}
        assert written, scenario.slug
        assert written == committed, scenario.slug


def test_the_prompt_text_is_the_system_and_every_message_block() -> None:
    body = {
        "system": [{"type": "text", "text": "You are FaultMaven.", "cache_control": {}}],
        "messages": [
            {"role": "user", "content": "<evidence>HikariPool-1 exhausted</evidence>"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "input": {"query": "pool"}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "leak-detection-threshold"}],
                    }
                ],
            },
        ],
        "tools": [{"name": "give_answer", "description": "maximum-pool-size"}],
    }
    text = prompt_text(body)
    found = facts_found(
        ["you are faultmaven", "HIKARIPOOL-1", "leak-detection-threshold", "maximum-pool-size"],
        text,
    )
    # Tool definitions are not context: a fact only they mention was not retrieved.
    assert found == {
        "you are faultmaven": True,
        "HIKARIPOOL-1": True,
        "leak-detection-threshold": True,
        "maximum-pool-size": False,
    }


def test_a_script_citing_a_file_the_scenario_does_not_upload_is_refused() -> None:
    with pytest.raises(KeyError, match=r"missing\.log"):
        substitute({"cited_source_ids": ["{evidence:missing.log}#digest"]}, {"a.log": "evd_1"})
    assert substitute(["{evidence:a.log}#digest", 3], {"a.log": "evd_1"}) == ["evd_1#digest", 3]
