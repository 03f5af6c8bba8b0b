"""The model layer's pure parts: prices, token estimates, backoff, request redaction and
the offline analyst."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from faultmaven.adapters.llm.offline import OfflineLanguageModel
from faultmaven.core.llm import (
    LLMRequest,
    Message,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    error_for_status,
    parse_retry_after,
)
from faultmaven.core.tokens import estimate_input_tokens
from faultmaven.llm.pricing import PriceTable, normalize_model
from faultmaven.llm.redaction import redact_request
from faultmaven.llm.retry import Deadline, RetryPolicy
from faultmaven.preprocessing.summarize import SummaryAnswer
from tests.secret_strategies import KIND_STRATEGIES, leaked_pieces, log_line


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "eu.anthropic.claude-opus-4-5-20251101-v1:0",
            "claude-opus-4-5",
        ),
    ],
)
def test_model_ids_of_every_provider_normalize_to_the_family(model: str, expected: str) -> None:
    assert normalize_model(model) == expected


def test_the_longest_matching_family_prices_a_call() -> None:
    table = PriceTable.shipped()
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    # opus-4-5 (5/25/6.25/0.5) must not be priced as opus-4 (15/75/...).
    assert table.cost("claude-opus-4-5-20251101", usage) == pytest.approx(5 + 25 + 6.25 + 0.5)
    assert table.cost("claude-opus-4-1", usage) == pytest.approx(15 + 75 + 18.75 + 1.5)
    assert table.cost("offline-analyst-1", usage) == 0


def test_settings_override_part_of_a_price_and_add_models() -> None:
    table = PriceTable.shipped(
        {"claude-haiku-4-5": {"output": 7.0}, "my-vllm-model": {"input": 0.2, "output": 0.4}}
    )
    usage = Usage(input_tokens=2_000_000, output_tokens=1_000_000)
    assert table.cost("claude-haiku-4-5", usage) == pytest.approx(2 * 1.0 + 7.0)
    assert table.cost("my-vllm-model", usage) == pytest.approx(0.4 + 0.4)


def test_an_unknown_model_costs_nothing_rather_than_failing() -> None:
    assert PriceTable.shipped().cost("some-new-model", Usage(input_tokens=10)) == 0.0


def test_estimates_grow_with_every_part_of_a_request() -> None:
    base = LLMRequest(messages=[Message.user("hello")])
    bigger_system = base.model_copy(update={"system": "x" * 300})
    with_tool = base.model_copy(
        update={"tools": [ToolSpec(name="t", description="d" * 90, input_schema={})]}
    )
    with_result = LLMRequest(
        messages=[
            Message(
                role="user",
                content=[ToolResultBlock(tool_use_id="a", content="y" * 300)],
            )
        ]
    )
    small = estimate_input_tokens(base)
    assert estimate_input_tokens(bigger_system) >= small + 100
    assert estimate_input_tokens(with_tool) >= small + 30
    assert estimate_input_tokens(with_result) >= 100


def test_backoff_grows_stays_bounded_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=0.5, max_seconds=4.0)
    rng = random.Random(7)
    for attempt in range(1, 8):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole window
    assert policy.delay(1, 3.0, rng) >= 3.0


def test_a_deadline_counts_down_on_its_clock() -> None:
    now = [100.0]
    deadline = Deadline.within(5.0, clock=lambda: now[0])
    assert deadline.remaining() == 5.0
    now[0] = 104.0
    assert deadline.remaining() == pytest.approx(1.0)
    now[0] = 106.0
    assert deadline.expired
    assert deadline.remaining() == 0.0


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, "rate_limited", True),
        (529, "overloaded", True),
        (500, "server_error", True),
        (503, "server_error", True),
        (408, "timeout", True),
        (401, "authentication_error", False),
        (403, "authentication_error", False),
        (400, "invalid_request", False),
        (404, "invalid_request", False),
    ],
)
def test_http_statuses_map_to_retryable_or_final_errors(
    status: int, kind: str, retryable: bool
) -> None:
    error = error_for_status(status, "boom", retry_after=parse_retry_after("2"))
    assert (error.kind, error.retryable, error.status) == (kind, retryable, status)


def test_retry_after_values_that_are_not_seconds_are_ignored() -> None:
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after(None) is None


ALL_KINDS = sorted(KIND_STRATEGIES)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_no_secret_survives_in_any_part_of_a_request(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(ALL_KINDS))
    planted = data.draw(KIND_STRATEGIES[kind])
    line = data.draw(log_line(planted))
    request = LLMRequest(
        system=f"Case title: {line}",
        messages=[
            Message.user(line),
            Message(
                role="assistant",
                content=[
                    TextBlock(text=line),
                    ToolUseBlock(id="t1", name="search", input={"q": line, "n": [line, 3]}),
                ],
            ),
            Message(role="user", content=[ToolResultBlock(tool_use_id="t1", content=line)]),
        ],
        stop_sequences=[line],
    )
    clean, counts = redact_request(request)
    assert leaked_pieces(planted.secrets, clean.model_dump_json()) == [], (kind, line)
    assert counts


def test_redaction_leaves_clean_requests_unchanged() -> None:
    request = LLMRequest(
        system="You are an SRE copilot.",
        messages=[Message.user("Why did checkout return 503 at 10:02?")],
        tools=[ToolSpec(name="t", input_schema={"type": "object"})],
    )
    clean, counts = redact_request(request)
    assert clean == request
    assert counts == {}


class _Finding(BaseModel):
    title: str = Field(max_length=40)
    severity: str = Field(json_schema_extra={"enum": ["low", "high"]})
    score: float = Field(ge=0, le=1)
    steps: list[str] = Field(min_length=2, max_length=3)
    urgent: bool = False


def _forced(schema: type[BaseModel], text: str) -> LLMRequest:
    return LLMRequest(
        messages=[Message.user(text)],
        tools=[ToolSpec(name="answer", input_schema=schema.model_json_schema())],
        tool_choice=ToolChoice(type="tool", name="answer"),
    )


def test_the_offline_analyst_fills_a_forced_tool_from_tagged_sections() -> None:
    text = (
        "<title>Connection pool exhausted on the payments database</title>\n"
        "<steps>\n- Raise pool size\n- Restart the pods\n</steps>\n"
        "<score>0.8</score>"
    )
    response = OfflineLanguageModel().complete(_forced(_Finding, text), timeout=1)
    (call,) = response.tool_uses
    value = _Finding.model_validate(call.input)
    assert value.title.startswith("Connection pool exhausted")
    assert len(value.title) <= 40
    assert value.steps == ["Raise pool size", "Restart the pods"]
    assert value.score == 0.8
    assert response.metadata["offline"] is True
    assert response.stop_reason == "tool_use"
    assert response.usage.input_tokens > 0


def test_the_offline_analyst_fills_what_is_missing_from_the_message_within_bounds() -> None:
    text = "Checkout failed at 10:02. The gateway returned 503. Retries did not help. Done."
    response = OfflineLanguageModel().complete(_forced(_Finding, text), timeout=1)
    value = _Finding.model_validate(response.tool_uses[0].input)
    assert 2 <= len(value.steps) <= 3
    assert value.steps[0] == "Checkout failed at 10:02."


def test_the_offline_analyst_is_deterministic_and_labels_free_text() -> None:
    request = LLMRequest(messages=[Message.user("Disk full on node-3. Pods evicted.")])
    first = OfflineLanguageModel().complete(request, timeout=1)
    second = OfflineLanguageModel().complete(request, timeout=1)
    assert first.content == second.content
    assert first.text.startswith("[offline analyst]")
    assert "Disk full on node-3." in first.text


def test_the_offline_analyst_returns_the_summarize_draft_it_is_given() -> None:
    text = (
        "<summary>\n1,204 ERROR lines from payments-api between 10:00 and 10:05.\n</summary>\n"
        "<key_insights>\n- Timeout to db-primary (812 times)\n- Pool exhausted (392)\n"
        "- First error at 10:00:03\n</key_insights>\n<extraction>\n...\n</extraction>"
    )
    response = OfflineLanguageModel().complete(_forced(SummaryAnswer, text), timeout=1)
    answer = SummaryAnswer.model_validate(response.tool_uses[0].input)
    assert answer.summary == "1,204 ERROR lines from payments-api between 10:00 and 10:05."
    assert answer.key_insights == [
        "Timeout to db-primary (812 times)",
        "Pool exhausted (392)",
        "First error at 10:00:03",
    ]


def test_model_failures_reach_the_client_as_envelopes_with_their_status() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from faultmaven.core.errors import (
        LLMBudgetExhaustedError,
        LLMUnavailableError,
        install_error_handlers,
    )

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    def down() -> None:
        raise LLMUnavailableError("down", headers={"Retry-After": "7"})

    @app.get("/spent")
    def spent() -> None:
        raise LLMBudgetExhaustedError("spent", details={"budget": "case"})

    client = TestClient(app)
    answer = client.get("/down")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error_code"] == "LLM_UNAVAILABLE"
    answer = client.get("/spent")
    assert answer.status_code == 402
    assert answer.json()["error_code"] == "LLM_BUDGET_EXHAUSTED"
    assert answer.json()["details"] == {"budget": "case"}
    assert "Retry-After" not in answer.headers


def test_a_call_charged_to_a_case_must_be_recorded_in_a_session() -> None:
    from faultmaven.llm.service import CallScope

    with pytest.raises(ValueError, match="history session"):
        CallScope(step="t", case_id="case_" + "0" * 32)
    CallScope(step="t", case_id="case_" + "0" * 32, session_id="hist_" + "0" * 32)
    CallScope(step="t")  # neither: a call no budget is charged for (a health probe)
