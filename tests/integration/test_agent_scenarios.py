"""The agent scenario suite (tests/scenarios/agent/): fourteen incidents, each uploaded
through the real pipeline and asked once with the scripted model (the real `anthropic`
SDK against the Messages stub) and once with the offline analyst.

With the model, each scenario must answer 200 with a 3.1.0 response whose sources hold
the evidence the script cites and whose hypothesis landed in the case, and the first
prompt the model received must carry at least 75 % of the scenario's facts (90 % over
the suite): that prompt is what retrieval chose before any tool call. Offline, the
analyst must cite evidence of the case and say that it is offline.

Each scenario runs once per provider for the whole module (results are kept, since the
suite's tables are emptied between tests), so the per-scenario tests and the suite's
mean look at the same turns.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient

from faultmaven.agent.models import AgentResponse
from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from tests.helpers import Api
from tests.integration.agent_helpers import stub_settings
from tests.llm_stubs import MessagesStub
from tests.scenarios.agent.runner import Turn, load_all, model_requests, run

SCENARIOS = load_all()
IDS = [s.slug for s in SCENARIOS]
BY_SLUG = {s.slug: s for s in SCENARIOS}
MIN_FACTS_EACH = 0.75
MIN_FACTS_MEAN = 0.9


class Turns(NamedTuple):
    scripted: Turn
    offline: Turn


@pytest.fixture(scope="module")
def stub() -> Iterator[MessagesStub]:
    with MessagesStub() as server:
        yield server


@pytest.fixture(scope="module")
def model_api(container: Container, stub: MessagesStub) -> Iterator[Api]:
    """The in-process app over the suite's stores, with the Anthropic provider pointed
    at the stub."""
    wired = build_container(stub_settings(container.settings, stub.base_url))
    with TestClient(create_app(container=wired), raise_server_exceptions=False) as client:
        yield Api(client)
    wired.close()


@pytest.fixture(scope="module")
def offline_api(container: Container) -> Iterator[Api]:
    with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
        yield Api(client)


@pytest.fixture(scope="module")
def turns(model_api: Api, offline_api: Api, stub: MessagesStub) -> Callable[[str], Turns]:
    """Both turns of a scenario, each on a case of its own, run together the first time
    a test asks for either: inside one test Redis is not flushed, so the second upload
    of the same files finds their chunks' vectors in the embedding cache."""
    done: dict[str, Turns] = {}

    def get(slug: str) -> Turns:
        if slug not in done:
            scenario = BY_SLUG[slug]
            done[slug] = Turns(run(model_api, scenario, stub), run(offline_api, scenario))
        return done[slug]

    return get


@pytest.fixture(scope="module")
def scripted(turns: Callable[[str], Turns]) -> Callable[[str], Turn]:
    return lambda slug: turns(slug).scripted


@pytest.fixture(scope="module")
def offline(turns: Callable[[str], Turns]) -> Callable[[str], Turn]:
    return lambda slug: turns(slug).offline


@pytest.mark.parametrize("slug", IDS)
def test_the_scripted_turn_cites_the_evidence_and_records_the_hypothesis(
    slug: str, scripted: Callable[[str], Turn]
) -> None:
    turn = scripted(slug)
    scenario = turn.prepared.scenario
    assert turn.status == 200, turn.body
    response = AgentResponse.model_validate(turn.body)
    assert response.schema_version == "3.1.0"
    assert response.metadata.offline is False
    assert response.metadata.provider == "anthropic"
    # Every scripted reply answered one model call: none was left over or repeated.
    assert len(model_requests(turn.requests)) == len(scenario.script)
    assert response.metadata.model_calls == len(scenario.script)
    assert response.metadata.tool_calls == len(scenario.script) - 1
    cited_ids = {turn.prepared.evidence_ids[name] for name in scenario.cited_files}
    sourced = {source.source_id.split("#")[0] for source in response.sources}
    assert cited_ids <= sourced, (cited_ids, sourced)
    statements = {h["statement"] for h in turn.hypotheses}
    assert set(scenario.hypothesis_statements) <= statements
    assert {h.hypothesis_id for h in response.new_hypotheses} <= {
        h["hypothesis_id"] for h in turn.hypotheses
    }


@pytest.mark.parametrize("slug", IDS)
def test_the_first_prompt_carries_the_facts_the_answer_needs(
    slug: str, scripted: Callable[[str], Turn]
) -> None:
    turn = scripted(slug)
    assert turn.status == 200, turn.body
    assert turn.context_tokens > 0
    assert turn.facts_share >= MIN_FACTS_EACH, (
        f"{turn.facts_share:.2f} of the facts in the first prompt; missing: {turn.missing_facts}"
    )


def test_over_the_suite_the_first_prompts_carry_nine_tenths_of_the_facts(
    scripted: Callable[[str], Turn],
) -> None:
    shares = {slug: scripted(slug).facts_share for slug in IDS}
    assert statistics.fmean(shares.values()) >= MIN_FACTS_MEAN, shares


@pytest.mark.parametrize("slug", IDS)
def test_the_offline_analyst_cites_the_case_and_says_it_is_offline(
    slug: str, offline: Callable[[str], Turn]
) -> None:
    turn = offline(slug)
    assert turn.status == 200, turn.body
    response = AgentResponse.model_validate(turn.body)
    assert response.schema_version == "3.1.0"
    assert response.metadata.offline is True
    assert "offline" in response.content.lower()
    case_evidence = set(turn.prepared.evidence_ids.values())
    known = case_evidence | set(turn.prepared.document_ids)
    cited = [source.source_id.split("#")[0] for source in response.sources]
    assert any(source in case_evidence for source in cited), cited
    assert set(cited) <= known, cited
