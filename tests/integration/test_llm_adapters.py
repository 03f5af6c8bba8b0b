"""The language-model adapters against wire-faithful local stubs.

The real `anthropic` SDK (first-party and `AnthropicBedrock`) and real httpx talk HTTP to
tests/llm_stubs.py; the stubs record what arrived, so these tests check what actually
left the process, and what the adapters made of real wire answers and failures.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
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
    ProviderConnectionError,
    ProviderError,
    ProviderOverloadedError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    TextBlock,
    TextDelta,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from faultmaven.core.tokens import estimate_input_tokens
from tests.llm_stubs import API_KEY, ChatCompletionsStub, Fail, MessagesStub, Raw, Text, ToolCall

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPHEMERAL = {"type": "ephemeral"}
CANARY = "PROMPT-CANARY-7f3a"

LOOKUP = ToolSpec(
    name="lookup_service",
    description="Find a service by name.",
    input_schema={
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    },
)
RECORD = ToolSpec(
    name="record_finding",
    description="Record a finding.",
    input_schema={
        "type": "object",
        "properties": {"finding": {"type": "string"}},
        "required": ["finding"],
    },
)


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """These tests use no database: the integration suite's cleaner is not needed."""


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock signs every call; the stub checks that a SigV4 signature is present."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)


def anthropic_model(stub: MessagesStub, key: str = API_KEY) -> AnthropicLanguageModel:
    return AnthropicLanguageModel(
        model="claude-test-model", api_key=lambda: key, base_url=stub.base_url
    )


def bedrock_model(stub: MessagesStub) -> BedrockLanguageModel:
    return BedrockLanguageModel(
        model="anthropic.claude-test-v1:0", region="eu-west-1", endpoint_url=stub.base_url
    )


@pytest.fixture
def openai_model(chat_stub: ChatCompletionsStub) -> Iterator[OpenAICompatibleLanguageModel]:
    model = OpenAICompatibleLanguageModel(
        model="llama-test", base_url=f"{chat_stub.base_url}/v1", api_key="stub-openai-key"
    )
    yield model
    model.close()


def ask(text: str = "Which service is failing?", **fields: Any) -> LLMRequest:
    return LLMRequest(messages=[Message.user(text)], **fields)


def tool_conversation(*, is_error: bool = False, tool_use_id: str = "toolu_01") -> LLMRequest:
    """A turn that answers the model's tool call with its result."""
    return LLMRequest(
        system="You are an SRE assistant.",
        tools=[LOOKUP],
        messages=[
            Message.user("Is checkout healthy?"),
            Message(
                role="assistant",
                content=[
                    TextBlock(text="Let me look it up."),
                    ToolUseBlock(id="toolu_01", name="lookup_service", input={"name": "checkout"}),
                ],
            ),
            Message(
                role="user",
                content=[
                    ToolResultBlock(
                        tool_use_id=tool_use_id,
                        content="checkout: 3/3 pods ready",
                        is_error=is_error,
                    ),
                    TextBlock(text="And now?"),
                ],
            ),
        ],
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def collect(events: Iterator[Any]) -> tuple[list[TextDelta], LLMResponse]:
    items = list(events)
    final = items[-1]
    assert isinstance(final, LLMResponse)
    deltas = items[:-1]
    assert all(isinstance(d, TextDelta) for d in deltas)
    return deltas, final


# --- import cost ---------------------------------------------------------------------


def test_importing_the_adapters_does_not_import_their_sdks() -> None:
    code = (
        "import sys\n"
        "import faultmaven.adapters.llm.anthropic, faultmaven.adapters.llm.bedrock\n"
        "import faultmaven.adapters.llm.openai_compatible, faultmaven.adapters.llm.messages_api\n"
        "print(sorted(m for m in ('anthropic', 'httpx', 'httpx2') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_warm_imports_the_sdk_and_builds_the_client_without_calling(
    messages_stub: MessagesStub,
) -> None:
    calls: list[int] = []

    def key() -> str:
        calls.append(1)
        return API_KEY

    model = AnthropicLanguageModel(model="m", api_key=key, base_url=messages_stub.base_url)
    model.warm()
    assert "anthropic" in sys.modules
    assert calls == [1]
    assert messages_stub.requests == []
    model.complete(ask(), timeout=5)
    model.complete(ask(), timeout=5)
    assert calls == [1], "the key is read once, when the client is built"


def test_a_key_source_that_names_its_failure_is_believed() -> None:
    # Secrets Manager unreachable is worth a retry; the adapter must not relabel it.
    def unreachable() -> str:
        raise ProviderConnectionError("the API key could not be read")

    model = AnthropicLanguageModel(model="m", api_key=unreachable, base_url="http://127.0.0.1:9")
    with pytest.raises(ProviderConnectionError):
        model.complete(ask(), timeout=1)


def test_a_key_that_cannot_be_read_is_an_auth_error_and_warm_survives_it() -> None:
    def broken() -> str:
        raise RuntimeError("secrets manager unreachable")

    model = AnthropicLanguageModel(model="m", api_key=broken, base_url="http://127.0.0.1:9")
    model.warm()  # logged, not raised: the first call reports it
    with pytest.raises(ProviderAuthError):
        model.complete(ask(), timeout=1)


# --- Messages API request mapping --------------------------------------------------


def test_system_prompt_and_tools_carry_cache_breakpoints(messages_stub: MessagesStub) -> None:
    anthropic_model(messages_stub).complete(
        ask(system="You are an SRE assistant.", tools=[LOOKUP, RECORD]), timeout=5
    )
    (received,) = messages_stub.requests
    body = received.body
    assert received.path == "/v1/messages"
    assert body["system"] == [
        {"type": "text", "text": "You are an SRE assistant.", "cache_control": EPHEMERAL}
    ]
    assert body["tools"] == [
        {
            "name": "lookup_service",
            "description": "Find a service by name.",
            "input_schema": LOOKUP.input_schema,
        },
        {
            "name": "record_finding",
            "description": "Record a finding.",
            "input_schema": RECORD.input_schema,
            "cache_control": EPHEMERAL,
        },
    ]
    assert body["model"] == "claude-test-model"
    assert body["max_tokens"] == 1024


def test_optional_fields_are_sent_only_when_set(messages_stub: MessagesStub) -> None:
    model = anthropic_model(messages_stub)
    model.complete(ask(), timeout=5)
    model.complete(ask(temperature=0.0, stop_sequences=["</answer>"], max_tokens=50), timeout=5)
    bare, full = (r.body for r in messages_stub.requests)
    for absent in ("system", "tools", "tool_choice", "temperature", "stop_sequences"):
        assert absent not in bare
    assert full["stop_sequences"] == ["</answer>"]
    assert full["max_tokens"] == 50


def test_temperature_is_never_sent_and_the_response_says_so(
    messages_stub: MessagesStub,
) -> None:
    # The SDK's API version (2026-10-21) refuses any sampling parameter with a 400.
    response = anthropic_model(messages_stub).complete(ask(temperature=0.2), timeout=5)
    assert "temperature" not in messages_stub.requests[0].body
    assert response.metadata["unsupported_parameters"] == ["temperature"]
    plain = anthropic_model(messages_stub).complete(ask(), timeout=5)
    assert "unsupported_parameters" not in plain.metadata


def test_the_stub_refuses_sampling_parameters_like_the_api() -> None:
    import anthropic

    with MessagesStub() as stub:
        client = anthropic.Anthropic(api_key=API_KEY, base_url=stub.base_url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="temperature"):
            client.messages.create(
                model="m",
                max_tokens=5,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"temperature": 1.0},
            )


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice(type="auto"), {"type": "auto"}),
        (ToolChoice(type="any"), {"type": "any"}),
        (ToolChoice(type="none"), {"type": "none"}),
        (
            ToolChoice(type="tool", name="record_finding"),
            {"type": "tool", "name": "record_finding"},
        ),
    ],
)
def test_tool_choice_forms(messages_stub: MessagesStub, choice: ToolChoice, wire: Any) -> None:
    anthropic_model(messages_stub).complete(
        ask(tools=[LOOKUP, RECORD], tool_choice=choice), timeout=5
    )
    assert messages_stub.requests[0].body["tool_choice"] == wire


def test_a_forced_tool_without_a_name_is_refused_before_sending(
    messages_stub: MessagesStub,
) -> None:
    with pytest.raises(ProviderRequestError):
        anthropic_model(messages_stub).complete(
            ask(tools=[LOOKUP], tool_choice=ToolChoice(type="tool")), timeout=5
        )
    assert messages_stub.requests == []


def test_tool_use_and_tool_result_blocks_round_trip(messages_stub: MessagesStub) -> None:
    response = anthropic_model(messages_stub).complete(tool_conversation(is_error=True), timeout=5)
    assert response.text == "pong"
    messages = messages_stub.requests[0].body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look it up."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "lookup_service",
                "input": {"name": "checkout"},
            },
        ],
    }
    assert messages[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_01",
        "content": "checkout: 3/3 pods ready",
        "is_error": True,
    }


def test_a_tool_result_answering_no_tool_use_is_the_providers_request_error(
    messages_stub: MessagesStub,
) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        anthropic_model(messages_stub).complete(
            tool_conversation(tool_use_id="toolu_unknown"), timeout=5
        )
    assert caught.value.status == 400


def test_the_key_and_api_version_headers_are_sent(messages_stub: MessagesStub) -> None:
    anthropic_model(messages_stub).complete(ask(), timeout=5)
    headers = messages_stub.requests[0].headers
    assert API_KEY in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert headers["anthropic-version"]


def test_one_connection_serves_successive_calls(messages_stub: MessagesStub) -> None:
    model = anthropic_model(messages_stub)
    for _ in range(3):
        model.complete(ask(), timeout=5)
    assert len({r.peer for r in messages_stub.requests}) == 1


# --- Messages API response mapping ------------------------------------------------


def test_a_text_answer_with_usage_and_identity(messages_stub: MessagesStub) -> None:
    messages_stub.queue(Text("checkout is failing", stop_reason="max_tokens"))
    response = anthropic_model(messages_stub).complete(ask(), timeout=5)
    assert response.content == [TextBlock(text="checkout is failing")]
    assert response.stop_reason == "max_tokens"
    assert response.model == "claude-test-model"
    assert response.provider == "anthropic"
    assert response.latency_ms > 0
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.metadata["message_id"].startswith("msg_")
    assert not response.usage_estimated


def test_a_tool_use_answer(messages_stub: MessagesStub) -> None:
    messages_stub.queue(
        ToolCall(name="lookup_service", input={"name": "db"}, text="Checking.", id="toolu_9")
    )
    response = anthropic_model(messages_stub).complete(ask(tools=[LOOKUP]), timeout=5)
    assert response.stop_reason == "tool_use"
    assert response.text == "Checking."
    assert response.tool_uses == [
        ToolUseBlock(id="toolu_9", name="lookup_service", input={"name": "db"})
    ]


def test_the_cached_prefix_is_written_then_read(messages_stub: MessagesStub) -> None:
    model = anthropic_model(messages_stub)
    request = ask(system="A long, stable system prompt. " * 20, tools=[LOOKUP])
    first = model.complete(request, timeout=5)
    second = model.complete(request, timeout=5)
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.total_tokens == first.usage.total_tokens


def test_null_cache_fields_count_as_zero(messages_stub: MessagesStub) -> None:
    usage: Any = {
        "input_tokens": 7,
        "output_tokens": 3,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
    }
    messages_stub.queue(Text("ok", usage=usage))
    response = anthropic_model(messages_stub).complete(ask(), timeout=5)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 3)
    assert response.usage.cache_creation_input_tokens == 0
    assert response.usage.cache_read_input_tokens == 0


# --- Messages API streaming and counting --------------------------------------------


def test_a_streamed_text_answer(messages_stub: MessagesStub) -> None:
    messages_stub.queue(Text("the database is out of connections", chunks=4))
    deltas, final = collect(anthropic_model(messages_stub).stream(ask(), timeout=5))
    assert len(deltas) == 4
    assert "".join(d.text for d in deltas) == final.text == "the database is out of connections"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert messages_stub.requests[0].body["stream"] is True


def test_a_streamed_tool_call_accumulates_its_input(messages_stub: MessagesStub) -> None:
    messages_stub.queue(ToolCall(name="lookup_service", input={"name": "payments", "depth": 2}))
    deltas, final = collect(anthropic_model(messages_stub).stream(ask(tools=[LOOKUP]), timeout=5))
    assert deltas == []
    assert final.stop_reason == "tool_use"
    assert final.tool_uses[0].input == {"name": "payments", "depth": 2}


def test_an_overloaded_error_inside_a_stream(messages_stub: MessagesStub) -> None:
    messages_stub.queue(Fail(529, "overloaded_error", "Overloaded", mid_stream=True))
    with pytest.raises(ProviderOverloadedError) as caught:
        list(anthropic_model(messages_stub).stream(ask(), timeout=5))
    assert caught.value.status == 529


def test_a_stream_is_bounded_by_its_timeout_as_a_whole(messages_stub: MessagesStub) -> None:
    # Each event comes well within the timeout; together they do not.
    messages_stub.queue(Text("x" * 40, chunks=20, chunk_delay=0.05))
    with pytest.raises(ProviderTimeoutError):
        list(anthropic_model(messages_stub).stream(ask(), timeout=0.3))


def test_count_tokens(messages_stub: MessagesStub) -> None:
    request = ask(system="sys", tools=[LOOKUP], stop_sequences=["x"])
    counted = anthropic_model(messages_stub).count_tokens(request, timeout=5)
    (received,) = messages_stub.requests
    assert received.path == "/v1/messages/count_tokens"
    assert isinstance(counted, int)
    assert counted > 0
    for absent in ("max_tokens", "stop_sequences"):
        assert absent not in received.body
    assert received.body["system"][0]["cache_control"] == EPHEMERAL


# --- failures: every class, with its hint, one attempt ---------------------------------

ERRORS = [
    (Fail(429, "rate_limit_error", retry_after="3"), ProviderRateLimitedError, 429, 3.0),
    (
        Fail(429, "rate_limit_error", retry_after="2", retry_after_ms="1500"),
        ProviderRateLimitedError,
        429,
        1.5,
    ),
    (Fail(529, "overloaded_error", "Overloaded"), ProviderOverloadedError, 529, None),
    (Fail(500, "api_error", retry_after="1"), ProviderServerError, 500, 1.0),
    (Fail(503, "api_error"), ProviderServerError, 503, None),
    (Fail(401, "authentication_error"), ProviderAuthError, 401, None),
    (Fail(403, "permission_error"), ProviderAuthError, 403, None),
    (Fail(400, "invalid_request_error"), ProviderRequestError, 400, None),
    (Fail(413, "request_too_large"), ProviderRequestError, 413, None),
]


@pytest.mark.parametrize(("fail", "error", "status", "retry_after"), ERRORS)
def test_anthropic_errors(
    messages_stub: MessagesStub,
    fail: Fail,
    error: type[ProviderError],
    status: int,
    retry_after: float | None,
) -> None:
    messages_stub.queue(fail)
    with pytest.raises(error) as caught:
        anthropic_model(messages_stub).complete(ask(), timeout=5)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.retry_after == retry_after
    assert len(messages_stub.requests) == 1, "exactly one attempt: the SDK must not retry"


@pytest.mark.parametrize(("fail", "error", "status", "retry_after"), ERRORS)
def test_openai_compatible_errors(
    chat_stub: ChatCompletionsStub,
    openai_model: OpenAICompatibleLanguageModel,
    fail: Fail,
    error: type[ProviderError],
    status: int,
    retry_after: float | None,
) -> None:
    chat_stub.queue(fail)
    with pytest.raises(error) as caught:
        openai_model.complete(ask(), timeout=5)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.retry_after == retry_after
    assert len(chat_stub.requests) == 1


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (Fail(429, "ThrottlingException"), ProviderRateLimitedError),
        (Fail(503, "ServiceUnavailableException"), ProviderServerError),
        (Fail(403, "AccessDeniedException"), ProviderAuthError),
        (Fail(400, "ValidationException"), ProviderRequestError),
        (Fail(424, "ModelErrorException"), ProviderServerError),
    ],
)
def test_bedrock_errors(
    messages_stub: MessagesStub, fail: Fail, error: type[ProviderError]
) -> None:
    messages_stub.queue(fail)
    with pytest.raises(error):
        bedrock_model(messages_stub).complete(ask(), timeout=5)
    assert len(messages_stub.requests) == 1


def test_a_wrong_key_is_an_auth_error(messages_stub: MessagesStub) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        anthropic_model(messages_stub, key="sk-wrong").complete(ask(), timeout=5)
    assert caught.value.status == 401


ADAPTERS: dict[str, Callable[[MessagesStub, ChatCompletionsStub], Any]] = {
    "anthropic": lambda m, c: anthropic_model(m),
    "bedrock": lambda m, c: bedrock_model(m),
    "openai_compatible": lambda m, c: OpenAICompatibleLanguageModel(
        model="llama-test", base_url=f"{c.base_url}/v1", api_key="stub-openai-key"
    ),
}


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_an_answer_slower_than_the_timeout_is_a_timeout(
    messages_stub: MessagesStub, chat_stub: ChatCompletionsStub, name: str, streaming: bool
) -> None:
    stub = chat_stub if name == "openai_compatible" else messages_stub
    stub.queue(Text("late", delay=3.0))
    model = ADAPTERS[name](messages_stub, chat_stub)
    call = (
        (lambda: list(model.stream(ask(), timeout=0.3)))
        if streaming
        else (lambda: model.complete(ask(), timeout=0.3))
    )
    with pytest.raises(ProviderTimeoutError):
        call()
    assert len(stub.requests) == 1


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_a_closed_port_is_a_connection_error(name: str, streaming: bool) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    model: Any
    if name == "anthropic":
        model = AnthropicLanguageModel(model="m", api_key=lambda: API_KEY, base_url=url)
    elif name == "bedrock":
        model = BedrockLanguageModel(model="m", region="eu-west-1", endpoint_url=url)
    else:
        model = OpenAICompatibleLanguageModel(model="m", base_url=f"{url}/v1")
    call = (
        (lambda: list(model.stream(ask(), timeout=2)))
        if streaming
        else (lambda: model.complete(ask(), timeout=2))
    )
    with pytest.raises(ProviderConnectionError):
        call()


@pytest.mark.parametrize("name", ADAPTERS)
def test_failures_never_carry_or_log_the_prompt(
    messages_stub: MessagesStub,
    chat_stub: ChatCompletionsStub,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    stub = chat_stub if name == "openai_compatible" else messages_stub
    stub.queue(Fail(500, "api_error"), Fail(429, "rate_limit_error", mid_stream=True))
    model = ADAPTERS[name](messages_stub, chat_stub)
    request = ask(f"user text {CANARY}", system=f"system {CANARY}")
    caplog.set_level(logging.DEBUG)
    errors: list[ProviderError] = []
    for call in (
        lambda: model.complete(request, timeout=5),
        lambda: list(model.stream(request, timeout=5)),
    ):
        with pytest.raises(ProviderError) as caught:
            call()
        errors.append(caught.value)
    assert CANARY in json.dumps(stub.requests[0].body), "the canary did leave, as it should"
    for error in errors:
        assert CANARY not in str(error)
    assert not [r for r in caplog.records if CANARY in r.getMessage()]


def test_missing_aws_credentials_are_an_auth_error(messages_stub: MessagesStub) -> None:
    # In a subprocess: botocore caches a session's credentials for the process.
    code = (
        "from faultmaven.adapters.llm.bedrock import BedrockLanguageModel\n"
        "from faultmaven.core.llm import LLMRequest, Message, ProviderAuthError\n"
        f"model = BedrockLanguageModel(model='m', region='eu-west-1', "
        f"endpoint_url='{messages_stub.base_url}')\n"
        "try:\n"
        "    model.complete(LLMRequest(messages=[Message.user('hi')]), timeout=5)\n"
        "except ProviderAuthError:\n"
        "    print('auth')\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("ANTHROPIC_API_KEY",)
    }
    env.update(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert out.stdout.strip() == "auth", out.stderr[-2000:]
    assert messages_stub.requests == []


# --- Bedrock -------------------------------------------------------------------------


def test_bedrock_invoke_is_signed_and_routed_by_model(messages_stub: MessagesStub) -> None:
    response = bedrock_model(messages_stub).complete(ask(system="sys", tools=[LOOKUP]), timeout=5)
    (received,) = messages_stub.requests
    assert received.path == "/model/anthropic.claude-test-v1:0/invoke"
    assert "model" not in received.body
    assert received.body["anthropic_version"]
    assert received.body["system"][0]["cache_control"] == EPHEMERAL
    assert received.body["tools"][-1]["cache_control"] == EPHEMERAL
    authorization = received.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    assert response.provider == "bedrock"
    assert response.text == "pong"


def test_bedrock_streams_over_the_aws_event_stream(messages_stub: MessagesStub) -> None:
    messages_stub.queue(Text("disk full on node-3", chunks=3))
    deltas, final = collect(bedrock_model(messages_stub).stream(ask(), timeout=5))
    assert messages_stub.requests[0].path == (
        "/model/anthropic.claude-test-v1:0/invoke-with-response-stream"
    )
    assert "".join(d.text for d in deltas) == final.text == "disk full on node-3"
    assert final.usage.input_tokens > 0


def test_bedrock_throttling_inside_a_stream(messages_stub: MessagesStub) -> None:
    messages_stub.queue(Fail(429, "ThrottlingException", mid_stream=True))
    with pytest.raises(ProviderRateLimitedError):
        list(bedrock_model(messages_stub).stream(ask(), timeout=5))


def test_bedrock_cannot_count_tokens(messages_stub: MessagesStub) -> None:
    assert bedrock_model(messages_stub).count_tokens(ask(), timeout=5) is None
    assert messages_stub.requests == []


# --- OpenAI-compatible ----------------------------------------------------------------


def test_chat_request_mapping(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    request = tool_conversation(is_error=True).model_copy(
        update={"temperature": 0.2, "stop_sequences": ["END"], "max_tokens": 77}
    )
    openai_model.complete(request, timeout=5)
    body = chat_stub.requests[0].body
    assert body["model"] == "llama-test"
    assert body["max_tokens"] == 77
    assert body["temperature"] == 0.2
    assert body["stop"] == ["END"]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_service",
                "description": "Find a service by name.",
                "parameters": LOOKUP.input_schema,
            },
        }
    ]
    assert body["messages"] == [
        {"role": "system", "content": "You are an SRE assistant."},
        {"role": "user", "content": "Is checkout healthy?"},
        {
            "role": "assistant",
            "content": "Let me look it up.",
            "tool_calls": [
                {
                    "id": "toolu_01",
                    "type": "function",
                    "function": {"name": "lookup_service", "arguments": '{"name": "checkout"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "toolu_01",
            "content": "Error: checkout: 3/3 pods ready",
        },
        {"role": "user", "content": "And now?"},
    ]
    assert chat_stub.requests[0].headers["authorization"] == "Bearer stub-openai-key"


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice(type="auto"), "auto"),
        (ToolChoice(type="none"), "none"),
        (ToolChoice(type="any"), "required"),
        (
            ToolChoice(type="tool", name="record_finding"),
            {"type": "function", "function": {"name": "record_finding"}},
        ),
    ],
)
def test_chat_tool_choice_forms(
    chat_stub: ChatCompletionsStub,
    openai_model: OpenAICompatibleLanguageModel,
    choice: ToolChoice,
    wire: Any,
) -> None:
    openai_model.complete(ask(tools=[LOOKUP, RECORD], tool_choice=choice), timeout=5)
    assert chat_stub.requests[0].body["tool_choice"] == wire


def test_no_key_no_authorization_header() -> None:
    with ChatCompletionsStub(api_key=None) as stub:
        model = OpenAICompatibleLanguageModel(model="m", base_url=f"{stub.base_url}/v1")
        model.complete(ask(), timeout=5)
        model.close()
    assert "authorization" not in stub.requests[0].headers


def test_chat_responses(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(
        Text("cut off", stop_reason="max_tokens"),
        ToolCall(name="lookup_service", input={"name": "api"}, id="call_7"),
        Text(
            "cached",
            usage={
                "prompt_tokens": 120,
                "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 100},  # type: ignore[dict-item]
            },
        ),
    )
    cut = openai_model.complete(ask(), timeout=5)
    call = openai_model.complete(ask(tools=[LOOKUP]), timeout=5)
    cached = openai_model.complete(ask(), timeout=5)
    assert (cut.text, cut.stop_reason, cut.provider) == (
        "cut off",
        "max_tokens",
        "openai_compatible",
    )
    assert cut.model == "llama-test"
    assert call.stop_reason == "tool_use"
    assert call.tool_uses == [
        ToolUseBlock(id="call_7", name="lookup_service", input={"name": "api"})
    ]
    # Cached prompt tokens are counted once, as cache reads, like Anthropic's usage.
    assert cached.usage.input_tokens == 20
    assert cached.usage.cache_read_input_tokens == 100
    assert cached.usage.output_tokens == 5
    assert cached.usage.total_tokens == 125
    assert len({r.peer for r in chat_stub.requests}) == 1, "one pooled connection"


def test_malformed_tool_arguments_are_kept_raw(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(
        ToolCall(name="lookup_service", raw_arguments='{"name": "api"', id="call_bad"),
        ToolCall(name="lookup_service", raw_arguments='{"name": "api"', id="call_bad"),
    )
    for response in (
        openai_model.complete(ask(tools=[LOOKUP]), timeout=5),
        collect(openai_model.stream(ask(tools=[LOOKUP]), timeout=5))[1],
    ):
        assert response.tool_uses[0].input == {"_raw": '{"name": "api"'}
        assert response.metadata["malformed_tool_arguments"] == ["call_bad"]


def test_missing_usage_is_estimated_and_flagged() -> None:
    with ChatCompletionsStub(usage=False) as stub:
        model = OpenAICompatibleLanguageModel(model="m", base_url=f"{stub.base_url}/v1")
        request = ask("explain the outage " * 10)
        for response in (
            model.complete(request, timeout=5),
            collect(model.stream(request, timeout=5))[1],
        ):
            assert response.usage_estimated
            assert response.usage.input_tokens == estimate_input_tokens(request)
            assert response.usage.output_tokens > 0
        model.close()


def test_chat_streaming(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(
        Text("latency rose after the deploy", chunks=3),
        ToolCall(name="lookup_service", input={"name": "edge", "region": "eu"}, id="call_s"),
    )
    deltas, text = collect(openai_model.stream(ask(), timeout=5))
    assert len(deltas) == 3
    assert "".join(d.text for d in deltas) == text.text == "latency rose after the deploy"
    assert not text.usage_estimated
    assert text.usage.input_tokens > 0
    body = chat_stub.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    _, call = collect(openai_model.stream(ask(tools=[LOOKUP]), timeout=5))
    assert call.stop_reason == "tool_use"
    assert call.tool_uses == [
        ToolUseBlock(id="call_s", name="lookup_service", input={"name": "edge", "region": "eu"})
    ]


def test_chat_error_inside_a_stream(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(Fail(500, "server_error", mid_stream=True))
    with pytest.raises(ProviderServerError):
        list(openai_model.stream(ask(), timeout=5))


def test_a_request_error_inside_a_stream_is_not_worth_a_retry(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    """vLLM and LiteLLM report a prompt over the context length inside the stream."""
    chat_stub.queue(Fail(400, "context_length_exceeded", mid_stream=True))
    with pytest.raises(ProviderRequestError) as raised:
        list(openai_model.stream(ask(), timeout=5))
    assert raised.value.retryable is False


def test_chat_stream_is_bounded_by_its_timeout_as_a_whole(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(Text("y" * 40, chunks=20, chunk_delay=0.05))
    with pytest.raises(ProviderTimeoutError):
        list(openai_model.stream(ask(), timeout=0.3))


def test_chat_count_tokens_is_none(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    assert openai_model.count_tokens(ask(), timeout=5) is None
    assert chat_stub.requests == []


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_stream_cut_short_is_a_connection_error_not_an_answer(
    messages_stub: MessagesStub, chat_stub: ChatCompletionsStub, name: str
) -> None:
    # The connection closes after the first delta, with no closing events: the
    # response so far must not pass for a complete answer.
    stub = chat_stub if name == "openai_compatible" else messages_stub
    stub.queue(Text("the first half and the second half", chunks=2, cut_short=True))
    model = ADAPTERS[name](messages_stub, chat_stub)
    seen: list[Any] = []
    with pytest.raises(ProviderConnectionError):
        seen.extend(model.stream(ask(), timeout=5))
    assert not any(isinstance(event, LLMResponse) for event in seen)


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (Raw(502, "<html><body>502 Bad Gateway</body></html>", "text/html"), 502),
        (Raw(200, "<html>not json</html>", "text/html"), None),
        (Raw(200, {"unexpected": "shape"}), None),
    ],
    ids=["proxy-502-page", "200-not-json", "200-wrong-shape"],
)
def test_answers_no_service_should_send_are_server_errors(
    messages_stub: MessagesStub,
    chat_stub: ChatCompletionsStub,
    name: str,
    raw: Raw,
    status: int | None,
) -> None:
    stub = chat_stub if name == "openai_compatible" else messages_stub
    stub.queue(raw)
    with pytest.raises(ProviderServerError) as caught:
        ADAPTERS[name](messages_stub, chat_stub).complete(ask(), timeout=5)
    if status is not None:
        assert caught.value.status == status


def test_block_types_without_a_shape_of_ours_are_skipped_and_named(
    messages_stub: MessagesStub,
) -> None:
    messages_stub.queue(
        Raw(
            200,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-test-model",
                "content": [
                    {"type": "thinking", "thinking": "pods first", "signature": "sig"},
                    {"type": "text", "text": "Check the pods."},
                ],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 4},
            },
        )
    )
    response = anthropic_model(messages_stub).complete(ask(), timeout=5)
    assert response.content == [TextBlock(text="Check the pods.")]
    assert response.metadata["skipped_blocks"] == ["thinking"]


def test_an_empty_key_is_an_auth_error_before_any_request(messages_stub: MessagesStub) -> None:
    with pytest.raises(ProviderAuthError):
        anthropic_model(messages_stub, key="").complete(ask(), timeout=5)
    assert messages_stub.requests == []


def test_a_key_with_surrounding_whitespace_still_authenticates(
    messages_stub: MessagesStub, chat_stub: ChatCompletionsStub
) -> None:
    # Secrets pasted into Secrets Manager or an env file often keep their newline.
    anthropic_model(messages_stub, key=f" {API_KEY}\n").complete(ask(), timeout=5)
    model = OpenAICompatibleLanguageModel(
        model="m", base_url=f"{chat_stub.base_url}/v1", api_key="stub-openai-key\n"
    )
    model.complete(ask(), timeout=5)
    model.close()
    assert chat_stub.requests[0].headers["authorization"] == "Bearer stub-openai-key"


def _chat_completion(message: dict[str, Any], finish: str, **choice: Any) -> Raw:
    return Raw(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "served-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, **choice}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        },
    )


def test_what_self_hosted_servers_say_differently(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    chat_stub.queue(
        # vLLM names the stop string that ended the answer.
        _chat_completion({"role": "assistant", "content": "a"}, "stop", stop_reason="END"),
        # Ollama finishes a tool call with "stop", and may omit the call's id.
        _chat_completion(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": "lookup_service", "arguments": ""}}
                ],
            },
            "stop",
        ),
        _chat_completion({"role": "assistant", "content": "b"}, "content_filter"),
    )
    stopped = openai_model.complete(ask(stop_sequences=["END"]), timeout=5)
    called = openai_model.complete(ask(tools=[LOOKUP]), timeout=5)
    filtered = openai_model.complete(ask(), timeout=5)
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.model == "served-model"
    assert called.stop_reason == "tool_use"
    assert called.content == [ToolUseBlock(id="call_0", name="lookup_service", input={})]
    assert filtered.stop_reason == "refusal"


def test_content_given_as_parts_is_read_as_text(
    chat_stub: ChatCompletionsStub, openai_model: OpenAICompatibleLanguageModel
) -> None:
    parts = [{"type": "text", "text": "disk "}, {"type": "text", "text": "full"}]
    chat_stub.queue(_chat_completion({"role": "assistant", "content": parts}, "stop"))
    assert openai_model.complete(ask(), timeout=5).text == "disk full"
