"""One contract every language-model adapter keeps, run against the local stubs always
and against the real services when they are configured:

- `ANTHROPIC_API_KEY` (model: `FAULTMAVEN_TEST_ANTHROPIC_MODEL`, default claude-haiku-4-5)
- `FAULTMAVEN_TEST_BEDROCK=1` with AWS credentials (model:
  `FAULTMAVEN_TEST_BEDROCK_MODEL`, region: `AWS_REGION`, default us-east-1)
- `FAULTMAVEN_TEST_OPENAI_URL` (like `http://host:8000/v1`) with
  `FAULTMAVEN_TEST_OPENAI_MODEL` and optionally `FAULTMAVEN_TEST_OPENAI_KEY`

Real calls use tiny prompts and small `max_tokens`. Run them on their own
(`pytest tests/integration/test_llm_contract.py`): the rest of the suite points the AWS
environment at moto.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from faultmaven.adapters.llm.anthropic import AnthropicLanguageModel
from faultmaven.adapters.llm.bedrock import BedrockLanguageModel
from faultmaven.adapters.llm.openai_compatible import OpenAICompatibleLanguageModel
from faultmaven.core.llm import (
    LLMRequest,
    LLMResponse,
    Message,
    ProviderAuthError,
    TextBlock,
    TextDelta,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from tests.llm_stubs import API_KEY, ChatCompletionsStub, MessagesStub

RECORD = ToolSpec(
    name="record_answer",
    description="Record the answer to the user's question.",
    input_schema={
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "The answer."}},
        "required": ["answer"],
    },
)
PING = LLMRequest(
    system="You answer in one word.",
    messages=[Message.user("Reply with the single word: pong")],
    max_tokens=16,
)


@dataclass
class Target:
    model: Any
    counts_tokens: bool
    # Builds the same adapter with a refused credential, where the target has one.
    with_bad_credentials: Callable[[], Any] | None


def _stub_messages(bedrock: bool) -> Iterator[Target]:
    with MessagesStub() as stub:
        if bedrock:
            yield Target(
                BedrockLanguageModel(
                    model="anthropic.claude-test-v1:0",
                    region="us-east-1",
                    endpoint_url=stub.base_url,
                ),
                counts_tokens=False,
                with_bad_credentials=None,
            )
            return

        def build(key: str) -> AnthropicLanguageModel:
            return AnthropicLanguageModel(
                model="claude-test", api_key=lambda: key, base_url=stub.base_url
            )

        yield Target(build(API_KEY), True, lambda: build("sk-wrong"))


def _stub_chat() -> Iterator[Target]:
    with ChatCompletionsStub(api_key="stub-openai-key") as stub:

        def build(key: str) -> OpenAICompatibleLanguageModel:
            return OpenAICompatibleLanguageModel(
                model="llama-test", base_url=f"{stub.base_url}/v1", api_key=key
            )

        yield Target(build("stub-openai-key"), False, lambda: build("wrong"))


def _real_anthropic() -> Iterator[Target]:
    key = os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        pytest.skip("ANTHROPIC_API_KEY is not set")
    model = os.environ.get("FAULTMAVEN_TEST_ANTHROPIC_MODEL", "claude-haiku-4-5")
    base_url = os.environ.get("ANTHROPIC_BASE_URL")

    def build(api_key: str) -> AnthropicLanguageModel:
        return AnthropicLanguageModel(model=model, api_key=lambda: api_key, base_url=base_url)

    yield Target(build(key), True, lambda: build("sk-ant-invalid-key"))


def _real_bedrock() -> Iterator[Target]:
    if os.environ.get("FAULTMAVEN_TEST_BEDROCK") != "1":
        pytest.skip("FAULTMAVEN_TEST_BEDROCK=1 is not set")
    model = os.environ.get(
        "FAULTMAVEN_TEST_BEDROCK_MODEL", "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    region = os.environ.get("AWS_REGION", "us-east-1")
    yield Target(BedrockLanguageModel(model=model, region=region), False, None)


def _real_openai() -> Iterator[Target]:
    url = os.environ.get("FAULTMAVEN_TEST_OPENAI_URL")
    model = os.environ.get("FAULTMAVEN_TEST_OPENAI_MODEL")
    if not url or not model:
        pytest.skip("FAULTMAVEN_TEST_OPENAI_URL and FAULTMAVEN_TEST_OPENAI_MODEL are not set")
    key = os.environ.get("FAULTMAVEN_TEST_OPENAI_KEY")
    target = OpenAICompatibleLanguageModel(model=model, base_url=url, api_key=key)
    bad = (
        (lambda: OpenAICompatibleLanguageModel(model=model, base_url=url, api_key="wrong"))
        if key
        else None
    )
    yield Target(target, False, bad)


TARGETS: dict[str, Callable[[], Iterator[Target]]] = {
    "anthropic-stub": lambda: _stub_messages(bedrock=False),
    "bedrock-stub": lambda: _stub_messages(bedrock=True),
    "openai-stub": _stub_chat,
    "anthropic-real": _real_anthropic,
    "bedrock-real": _real_bedrock,
    "openai-real": _real_openai,
}


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """These tests use no database: the integration suite's cleaner is not needed."""


@pytest.fixture(params=list(TARGETS))
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    if request.param == "bedrock-stub":
        # The stub wants a SigV4 signature, not a valid one.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield from TARGETS[request.param]()


def test_answers_a_prompt(target: Target) -> None:
    response = target.model.complete(PING, timeout=30)
    assert response.text.strip()
    assert response.stop_reason in ("end_turn", "max_tokens", "stop_sequence")
    assert response.provider == target.model.provider
    assert response.model
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0


def test_a_forced_tool_call_and_its_result(target: Target) -> None:
    ask = LLMRequest(
        system="You record answers with the tool.",
        messages=[Message.user("What is 2 + 2? Record the answer.")],
        tools=[RECORD],
        tool_choice=ToolChoice(type="tool", name="record_answer"),
        max_tokens=64,
    )
    response = target.model.complete(ask, timeout=30)
    assert response.stop_reason == "tool_use"
    (call,) = response.tool_uses
    assert call.name == "record_answer"
    assert isinstance(call.input.get("answer"), str)
    follow_up = LLMRequest(
        system=ask.system,
        tools=[RECORD],
        max_tokens=32,
        messages=[
            *ask.messages,
            Message(role="assistant", content=list(response.content)),
            Message(
                role="user",
                content=[
                    ToolResultBlock(tool_use_id=call.id, content="recorded"),
                    TextBlock(text="Thanks. Reply with one word."),
                ],
            ),
        ],
    )
    answer = target.model.complete(follow_up, timeout=30)
    assert answer.text.strip() or answer.tool_uses


def test_a_stream_ends_with_the_whole_answer(target: Target) -> None:
    events = list(target.model.stream(PING, timeout=30))
    final = events[-1]
    assert isinstance(final, LLMResponse)
    deltas = events[:-1]
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert "".join(d.text for d in deltas) == final.text
    assert final.text.strip()
    assert final.usage.output_tokens > 0


def test_counts_tokens_where_the_provider_can(target: Target) -> None:
    counted = target.model.count_tokens(PING, timeout=30)
    if target.counts_tokens:
        assert isinstance(counted, int)
        assert counted > 0
    else:
        assert counted is None


def test_a_refused_credential_is_an_auth_error(target: Target) -> None:
    if target.with_bad_credentials is None:
        pytest.skip("this target has no credential to refuse")
    with pytest.raises(ProviderAuthError):
        target.with_bad_credentials().complete(PING, timeout=30)


def test_tool_use_history_is_accepted(target: Target) -> None:
    """A conversation that already holds a tool call and its (error) result."""
    request = LLMRequest(
        tools=[RECORD],
        max_tokens=32,
        messages=[
            Message.user("Record that the disk is full."),
            Message(
                role="assistant",
                content=[
                    ToolUseBlock(
                        id="toolu_01A", name="record_answer", input={"answer": "disk full"}
                    )
                ],
            ),
            Message(
                role="user",
                content=[
                    ToolResultBlock(
                        tool_use_id="toolu_01A", content="storage offline", is_error=True
                    )
                ],
            ),
        ],
    )
    response = target.model.complete(request, timeout=30)
    assert response.text.strip() or response.tool_uses
