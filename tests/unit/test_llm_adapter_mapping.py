"""The adapters' pure mappings: what the wire hints and shapes become, without a server.

(tests/integration/test_llm_adapters.py drives the same code through real HTTP.)"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultmaven.adapters.llm.messages_api import count_tokens_kwargs, request_kwargs
from faultmaven.adapters.llm.openai_compatible import chat_body, chat_messages
from faultmaven.core.llm import (
    LLMRequest,
    Message,
    ProviderRequestError,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    retry_after_from_headers,
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({"retry-after": "-1"}, None),
        ({}, None),
    ],
)
def test_retry_after_hints(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_from_headers(httpx.Headers(headers)) == expected


@given(st.integers(min_value=0, max_value=3_600_000))
def test_retry_after_ms_is_seconds(milliseconds: int) -> None:
    hint = retry_after_from_headers(httpx.Headers({"retry-after-ms": str(milliseconds)}))
    assert hint == pytest.approx(milliseconds / 1000)


def test_a_request_without_system_or_tools_sends_neither() -> None:
    kwargs = request_kwargs(LLMRequest(messages=[Message.user("hi")]), "m")
    assert set(kwargs) == {"model", "max_tokens", "messages"}


def test_a_single_tool_carries_the_breakpoint() -> None:
    tool = ToolSpec(name="only", input_schema={"type": "object"})
    kwargs = request_kwargs(LLMRequest(messages=[Message.user("hi")], tools=[tool]), "m")
    assert kwargs["tools"] == [
        {"name": "only", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
    ]


def test_count_tokens_takes_the_prompt_only() -> None:
    request = LLMRequest(messages=[Message.user("hi")], stop_sequences=["x"], max_tokens=9)
    assert set(count_tokens_kwargs(request, "m")) == {"model", "messages"}


@pytest.mark.parametrize("body", [request_kwargs, lambda r, m: chat_body(r, m, stream=False)])
def test_a_forced_tool_needs_a_name(body: object) -> None:
    request = LLMRequest(messages=[Message.user("hi")], tool_choice=ToolChoice(type="tool"))
    with pytest.raises(ProviderRequestError):
        body(request, "m")  # type: ignore[operator]


def test_chat_messages_keep_tool_results_next_to_their_call() -> None:
    request = LLMRequest(
        messages=[
            Message(
                role="assistant",
                content=[
                    ToolUseBlock(id="a", name="t", input={}),
                    ToolUseBlock(id="b", name="t", input={"x": 1}),
                ],
            ),
            Message(
                role="user",
                content=[
                    TextBlock(text="both done"),
                    ToolResultBlock(tool_use_id="a", content="ok"),
                    ToolResultBlock(tool_use_id="b", content="boom", is_error=True),
                ],
            ),
        ]
    )
    messages = chat_messages(request)
    assert [m["role"] for m in messages] == ["assistant", "tool", "tool", "user"]
    assert messages[0]["content"] is None
    assert [c["function"]["arguments"] for c in messages[0]["tool_calls"]] == ["{}", '{"x": 1}']
    assert messages[1] == {"role": "tool", "tool_call_id": "a", "content": "ok"}
    assert messages[2]["content"] == "Error: boom"


def test_a_server_that_counts_only_the_prompt_gets_its_answer_estimated() -> None:
    from faultmaven.adapters.llm.openai_compatible import _usage
    from faultmaven.core.llm import LLMRequest, Message

    request = LLMRequest(messages=[Message.user("hello")])
    usage, estimated = _usage({"prompt_tokens": 12}, request, "the pool is exhausted")
    assert usage.input_tokens == 12
    assert usage.output_tokens > 0
    assert estimated is True
    usage, estimated = _usage({"prompt_tokens": 12, "completion_tokens": 3}, request, "x")
    assert (usage.output_tokens, estimated) == (3, False)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "nan", "retry-after": "1e400"}, None),
        ({"retry-after": "86400"}, 3600.0),
        ({"retry-after-ms": "90000000"}, 3600.0),
    ],
)
def test_absurd_hints_are_ignored_or_capped(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_from_headers(httpx.Headers(headers)) == expected
