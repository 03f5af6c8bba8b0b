"""The gateway's behaviour with the real `anthropic` SDK against the Messages API stub and
the real history recorder in PostgreSQL: retries (what is retried, how long it waits,
when it stops), fallback, deadlines, budgets, redaction of what leaves, and one history
interaction per attempt."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultmaven.adapters.llm.anthropic import AnthropicLanguageModel
from faultmaven.adapters.llm.offline import OfflineLanguageModel
from faultmaven.container import Container
from faultmaven.core.errors import (
    LLMBudgetExhaustedError,
    LLMRequestRejectedError,
    LLMUnavailableError,
)
from faultmaven.core.llm import (
    LLMRequest,
    Message,
    ProviderAuthError,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
)
from faultmaven.core.ports import LanguageModel
from faultmaven.core.tokens import estimate_input_tokens
from faultmaven.history.recorder import HistoryRecorder
from faultmaven.llm.pricing import PriceTable
from faultmaven.llm.retry import Deadline, RetryPolicy
from faultmaven.llm.service import Budgets, CallScope, LanguageModels
from tests.helpers import Api
from tests.llm_stubs import API_KEY, Fail, MessagesStub, Text, ToolCall
from tests.secret_strategies import KIND_STRATEGIES, leaked_pieces, log_line

GENEROUS = Budgets(case_tokens=10**9, case_usd=10**6, session_tokens=10**9, session_usd=10**6)
MODEL = "claude-sonnet-4-5-20250929"


class Waits:
    """Records each backoff instead of sleeping it, so a `retry-after: 30` costs no time."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def anthropic(stub: MessagesStub, key: str = API_KEY) -> AnthropicLanguageModel:
    return AnthropicLanguageModel(model=MODEL, api_key=lambda: key, base_url=stub.base_url)


def gateway(
    providers: list[LanguageModel],
    recorder: HistoryRecorder | None,
    *,
    waits: Callable[[float], None] | None = None,
    budgets: Budgets = GENEROUS,
    attempts: int = 3,
) -> LanguageModels:
    return LanguageModels(
        providers,
        recorder=recorder,
        prices=PriceTable.shipped(),
        budgets=budgets,
        retry=RetryPolicy(max_attempts=attempts, base_seconds=0.2, max_seconds=2.0),
        call_timeout=5.0,
        sleep=waits or Waits(),
        rng=random.Random(1),
    )


@pytest.fixture
def recorder(container: Container) -> HistoryRecorder:
    return HistoryRecorder(container.database)


@pytest.fixture
def case_and_session(api: Api, recorder: HistoryRecorder) -> tuple[str, str]:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    session_id = recorder.open_session(agent_type="test", chain_id="gateway-test", case_id=case_id)
    return case_id, session_id


def _all_llm(detail: Any) -> list[Any]:
    found = [i for stage in detail.stages for i in stage.llm_interactions]
    found.extend(i for i in detail.unstaged_interactions if i.type == "llm")
    return sorted(found, key=lambda i: i.timestamp_us)


def ask(text: str = "Why is checkout slow?") -> LLMRequest:
    return LLMRequest(
        system="You are an SRE copilot.", messages=[Message.user(text)], max_tokens=64
    )


def test_throttling_is_retried_after_the_providers_hint_and_every_attempt_is_recorded(
    messages_stub: MessagesStub,
    recorder: HistoryRecorder,
    container: Container,
    case_and_session: tuple[str, str],
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(
        Fail(429, "rate_limit_error", retry_after="1.5"),
        Fail(529, "overloaded_error"),
        Text("The pool is exhausted."),
    )
    waits = Waits()
    completion = gateway([anthropic(messages_stub)], recorder, waits=waits).complete(
        ask(), scope=CallScope(step="test", case_id=case_id, session_id=session_id)
    )
    assert completion.response.text == "The pool is exhausted."
    assert completion.attempts == 3
    assert len(messages_stub.requests) == 3  # one HTTP request per attempt: SDK retries are off
    assert waits.seconds[0] >= 1.5  # never sooner than retry-after
    assert 0 <= waits.seconds[1] <= 0.4  # the second backoff's ceiling: 0.2 * 2
    records = _all_llm(container.history.get_session(_admin(), session_id))
    assert [r.details.success for r in records] == [False, False, True]
    assert "rate_limited" in (records[0].details.error_message or "")
    assert "overloaded" in (records[1].details.error_message or "")
    usage = records[2].details.token_usage
    assert usage is not None
    assert usage.output_tokens > 0
    assert records[2].details.cost_usd > 0


def _admin() -> Any:
    from faultmaven.auth.principal import Principal, Role

    return Principal(
        user_id="usr_" + "0" * 32,
        roles=frozenset({Role.USER, Role.ADMIN}),
        token_id="t",
        token_expires_at=0,
    )


def test_after_its_retries_the_primary_gives_way_to_the_fallback(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(*[Fail(500, "api_error")] * 3)
    models = gateway([anthropic(messages_stub), OfflineLanguageModel()], recorder)
    completion = models.complete(
        ask("Disk full on node-3. Pods evicted."),
        scope=CallScope(step="test", case_id=case_id, session_id=session_id),
    )
    assert len(messages_stub.requests) == 3
    assert completion.offline
    assert completion.response.provider == "offline"
    assert "Disk full on node-3." in completion.response.text


def test_a_wait_longer_than_the_policy_allows_goes_to_the_fallback_at_once(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(Fail(429, "rate_limit_error", retry_after="3600"))
    waits = Waits()
    models = gateway([anthropic(messages_stub), OfflineLanguageModel()], recorder, waits=waits)
    completion = models.complete(
        ask(), scope=CallScope(step="t", case_id=case_id, session_id=session_id)
    )
    assert completion.offline
    assert waits.seconds == []
    assert len(messages_stub.requests) == 1


@pytest.mark.parametrize("hint", ["inf", "1e400", "nan", "-5", "soon"])
def test_an_absurd_retry_after_is_no_hint_and_never_a_crash(
    hint: str,
    messages_stub: MessagesStub,
    recorder: HistoryRecorder,
    case_and_session: tuple[str, str],
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(*[Fail(529, "overloaded_error", retry_after=hint)] * 2)
    models = gateway([anthropic(messages_stub)], recorder, attempts=2)
    with pytest.raises(LLMUnavailableError) as raised:
        models.complete(ask(), scope=CallScope(step="t", case_id=case_id, session_id=session_id))
    assert raised.value.headers["Retry-After"] == "5"


def test_a_primary_that_hangs_leaves_the_fallback_its_share_of_the_deadline(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(Text("late", delay=6.0))
    models = gateway([anthropic(messages_stub), OfflineLanguageModel()], recorder)
    completion = models.complete(
        ask("The disk is full."),
        scope=CallScope(step="t", case_id=case_id, session_id=session_id),
        deadline=Deadline.within(4.0),
    )
    assert completion.offline
    assert len(messages_stub.requests) == 1


def test_a_refused_key_is_not_retried_but_falls_back_at_once(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    models = gateway([anthropic(messages_stub, key="wrong"), OfflineLanguageModel()], recorder)
    completion = models.complete(
        ask(), scope=CallScope(step="test", case_id=case_id, session_id=session_id)
    )
    assert len(messages_stub.requests) == 1
    assert completion.offline


def test_when_every_provider_fails_the_caller_gets_503_with_the_largest_hint(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(
        Fail(529, "overloaded_error", retry_after="1"),
        Fail(529, "overloaded_error", retry_after="1.6"),
    )
    models = gateway([anthropic(messages_stub)], recorder, attempts=2)
    with pytest.raises(LLMUnavailableError) as raised:
        models.complete(ask(), scope=CallScope(step="t", case_id=case_id, session_id=session_id))
    error = raised.value
    assert error.status_code == 503
    assert error.headers["Retry-After"] == "2"
    assert [a["error"] for a in error.details["attempts"]] == ["overloaded", "overloaded"]


def test_a_slow_provider_is_cut_at_the_deadline_and_no_retry_outlives_it(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    messages_stub.queue(Text("late", delay=3.0), Text("late", delay=3.0))
    waits = Waits()
    models = gateway([anthropic(messages_stub)], recorder, waits=waits)
    with pytest.raises(LLMUnavailableError) as raised:
        models.complete(
            ask(),
            scope=CallScope(step="t", case_id=case_id, session_id=session_id),
            deadline=Deadline.within(1.5),
        )
    # One attempt, cut by the deadline; another would not have had a second to run.
    assert len(messages_stub.requests) == 1
    assert raised.value.details["attempts"][0]["error"] == "timeout"


def test_a_passed_deadline_sends_nothing() -> None:
    models = gateway([OfflineLanguageModel()], None)
    with pytest.raises(LLMUnavailableError) as raised:
        models.complete(ask(), scope=CallScope(step="t"), deadline=Deadline.within(0.0))
    assert raised.value.details["reason"] == "deadline"


def test_a_call_that_would_pass_the_session_budget_is_refused_with_the_figures(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, session_id = case_and_session
    scope = CallScope(step="t", case_id=case_id, session_id=session_id)
    gateway([anthropic(messages_stub)], recorder).complete(ask(), scope=scope)
    spent = recorder.spent(session_id=session_id).tokens
    assert spent > 0
    worst = estimate_input_tokens(ask("and now?")) + 64
    limit = spent + 20  # far below any call's worst case
    budgets = Budgets(case_tokens=10**9, case_usd=10**6, session_tokens=limit, session_usd=10**6)
    with pytest.raises(LLMBudgetExhaustedError) as raised:
        gateway([anthropic(messages_stub)], recorder, budgets=budgets).complete(
            ask("and now?"), scope=scope
        )
    error = raised.value
    assert error.status_code == 402
    assert error.details["budget"] == "session"
    assert error.details["used_tokens"] == spent
    assert error.details["limit_tokens"] == limit
    calls = [r for r in messages_stub.requests if r.path == "/v1/messages"]
    assert len(calls) == 1  # the refused call never left
    # Near the limit the provider's own count decides; far from it, nobody asks.
    roomy = Budgets(
        case_tokens=10**9, case_usd=10**6, session_tokens=spent + 10 * worst, session_usd=10**6
    )
    gateway([anthropic(messages_stub)], recorder, budgets=roomy).complete(
        ask("and now?"), scope=scope
    )
    counted = [r for r in messages_stub.requests if r.path.endswith("/count_tokens")]
    assert counted  # asked when the estimate came within 10 % of the first limit
    assert len([r for r in messages_stub.requests if r.path == "/v1/messages"]) == 2


def test_the_usd_budget_of_a_case_counts_every_session_of_the_case(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    case_id, first = case_and_session
    second = recorder.open_session(agent_type="test", chain_id="gateway-test", case_id=case_id)
    gateway([anthropic(messages_stub)], recorder).complete(
        ask(), scope=CallScope(step="t", case_id=case_id, session_id=first)
    )
    spent = recorder.spent(case_id=case_id).cost_usd
    assert spent > 0
    worst = PriceTable.shipped().cost(
        MODEL, Usage(input_tokens=estimate_input_tokens(ask()), output_tokens=64)
    )
    # Room for half of the next call's worst case: the second session has spent nothing,
    # but its case has.
    budgets = Budgets(
        case_tokens=10**9, case_usd=spent + worst / 2, session_tokens=10**9, session_usd=10**6
    )
    models = gateway([anthropic(messages_stub)], recorder, budgets=budgets)
    scope = CallScope(step="t", case_id=case_id, session_id=second)
    with pytest.raises(LLMBudgetExhaustedError) as raised:
        models.complete(ask(), scope=scope)
    assert raised.value.details["budget"] == "case"
    assert raised.value.details["used_usd"] == pytest.approx(spent, abs=1e-6)


ALL_KINDS = sorted(KIND_STRATEGIES)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_no_secret_reaches_the_provider_or_the_history(
    data: st.DataObject,
    messages_stub: MessagesStub,
    recorder: HistoryRecorder,
    container: Container,
    case_and_session: tuple[str, str],
) -> None:
    case_id, session_id = case_and_session
    kind = data.draw(st.sampled_from(ALL_KINDS))
    planted = data.draw(KIND_STRATEGIES[kind])
    line = data.draw(log_line(planted))
    before = len(messages_stub.requests)
    # The secret in every part of a request, and in the model's answer.
    messages_stub.queue(ToolCall(name="lookup", input={"q": line}, text=f"I saw {line}"))
    completion = gateway([anthropic(messages_stub)], recorder).complete(
        LLMRequest(
            system=f"Case: {line}",
            messages=[
                Message.user(f"Look at this: {line}"),
                Message(
                    role="assistant",
                    content=[
                        TextBlock(text=line),
                        ToolUseBlock(id="toolu_1", name="lookup", input={line: [line]}),
                    ],
                ),
                Message(
                    role="user",
                    content=[ToolResultBlock(tool_use_id="toolu_1", content=line)],
                ),
            ],
            tools=[
                ToolSpec(
                    name="lookup",
                    description=f"Search, e.g. {line}",
                    input_schema={
                        "type": "object",
                        "properties": {"q": {"type": "string", "default": line}},
                    },
                )
            ],
            stop_sequences=[line],
        ),
        scope=CallScope(step="t", case_id=case_id, session_id=session_id),
    )
    assert leaked_pieces(planted.secrets, completion.response.model_dump_json()) == []
    sent = json.dumps([r.body for r in messages_stub.requests[before:]])
    assert leaked_pieces(planted.secrets, sent) == [], (kind, line)
    stored = json.dumps(container.history.get_session(_admin(), session_id).model_dump(mode="json"))
    assert leaked_pieces(planted.secrets, stored) == [], (kind, line)


def test_the_container_wires_the_configured_provider_and_its_fallback(
    container: Container, messages_stub: MessagesStub
) -> None:
    from faultmaven.container import build_container
    from tests.conftest import make_settings

    settings_ = make_settings(
        container.settings.database_url or "",
        container.settings.redis_url or "",
        llm_provider="anthropic",
        llm_fallback="offline",
        anthropic_api_key=API_KEY,
        anthropic_base_url=messages_stub.base_url,
    )
    wired = build_container(settings_)
    try:
        models = wired.language_models
        assert [p.provider for p in models._providers] == ["anthropic", "offline"]
        completion = models.complete(ask(), scope=CallScope(step="wiring"))
        assert completion.response.provider == "anthropic"
        assert messages_stub.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    finally:
        wired.close()


def test_a_missing_key_is_a_rejection_for_an_operator_not_a_503(
    container: Container,
) -> None:
    from faultmaven.container import build_container
    from tests.conftest import make_settings

    wired = build_container(
        make_settings(
            container.settings.database_url or "",
            container.settings.redis_url or "",
            llm_provider="anthropic",
        )
    )
    try:
        with pytest.raises(LLMRequestRejectedError) as raised:
            wired.language_models.complete(ask(), scope=CallScope(step="no key"))
        assert raised.value.status_code == 502
        assert "Retry-After" not in raised.value.headers
        assert raised.value.details["attempts"][0]["error"] == ProviderAuthError.kind
    finally:
        wired.close()


@pytest.mark.parametrize("language_model", [True, False])
def test_a_snapstart_init_builds_the_model_client_only_for_functions_that_call_it(
    language_model: bool,
    monkeypatch: pytest.MonkeyPatch,
    container: Container,
    messages_stub: MessagesStub,
) -> None:
    from faultmaven.app import create_app
    from faultmaven.container import build_container
    from faultmaven.history.api import router
    from faultmaven.lambda_entry import asgi_handler
    from tests.conftest import make_settings

    wired = build_container(
        make_settings(
            container.settings.database_url or "",
            container.settings.redis_url or "",
            llm_provider="anthropic",
            anthropic_api_key=API_KEY,
            anthropic_base_url=messages_stub.base_url,
        )
    )
    try:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
        asgi_handler(create_app([router], container=wired), language_model=language_model)
        built = "language_models" in wired.__dict__ and wired.language_models.primary._client
        assert bool(built) is language_model
        assert messages_stub.requests == []  # warming builds a client; it calls nothing
    finally:
        wired.close()


def _key_container(container: Container, stub: MessagesStub, arn: str) -> Container:
    from faultmaven.container import build_container
    from tests.conftest import make_settings

    return build_container(
        make_settings(
            container.settings.database_url or "",
            container.settings.redis_url or "",
            aws_endpoint_url=container.settings.aws_endpoint_url,
            llm_provider="anthropic",
            anthropic_api_key_secret_arn=arn,
            anthropic_base_url=stub.base_url,
        )
    )


def test_on_aws_the_key_comes_from_secrets_manager_and_a_stored_key_is_heard_at_once(
    container: Container, messages_stub: MessagesStub
) -> None:
    """CDK creates the secret with a placeholder: nothing leaves until a key is stored,
    and then the next call uses it, without a restart."""
    import secrets as random

    from faultmaven.adapters.aws import client
    from faultmaven.core.settings import ANTHROPIC_KEY_PLACEHOLDER

    manager = client("secretsmanager", container.settings)
    arn = manager.create_secret(
        Name=f"faultmaven/anthropic-{random.token_hex(4)}",
        SecretString=ANTHROPIC_KEY_PLACEHOLDER,
    )["ARN"]
    wired = _key_container(container, messages_stub, arn)
    try:
        with pytest.raises(LLMRequestRejectedError):
            wired.language_models.complete(ask(), scope=CallScope(step="before the key"))
        assert messages_stub.requests == []  # the placeholder never leaves
        manager.put_secret_value(SecretId=arn, SecretString=f"{API_KEY}\n")
        completion = wired.language_models.complete(ask(), scope=CallScope(step="with it"))
        assert completion.response.provider == "anthropic"
        assert messages_stub.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
        # A rotated key: the old one is refused once, the next call reads the new one.
        manager.put_secret_value(SecretId=arn, SecretString="rotated-key")
        messages_stub.api_key = "rotated-key"
        with pytest.raises(LLMRequestRejectedError):
            wired.language_models.complete(ask(), scope=CallScope(step="old key"))
        completion = wired.language_models.complete(ask(), scope=CallScope(step="new key"))
        assert messages_stub.requests[-1].headers["authorization"] == "Bearer rotated-key"
    finally:
        wired.close()


def test_secrets_manager_down_is_a_503_worth_retrying(
    container: Container, messages_stub: MessagesStub
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:faultmaven/missing-AbCdEf"
    wired = _key_container(container, messages_stub, missing)
    try:
        with pytest.raises(LLMUnavailableError):
            wired.language_models.complete(ask(), scope=CallScope(step="no secret"))
        assert messages_stub.requests == []
    finally:
        wired.close()


def test_near_a_limit_the_check_sees_what_other_processes_spent(
    messages_stub: MessagesStub, recorder: HistoryRecorder, case_and_session: tuple[str, str]
) -> None:
    """Far from every limit a check may use the totals it read seconds ago; near one it
    reads again, so spend recorded elsewhere (another Lambda) in between counts."""
    from tests.integration.history_helpers import llm_record

    case_id, session_id = case_and_session
    scope = CallScope(step="t", case_id=case_id, session_id=session_id)
    probe = gateway([anthropic(messages_stub)], recorder)
    probe.complete(ask(), scope=scope)
    first = recorder.spent(session_id=session_id).tokens
    worst = estimate_input_tokens(ask()) + 64
    limit = 2 * (first + worst)  # the cached figure is not "far" from this limit
    budgets = Budgets(case_tokens=10**9, case_usd=10**6, session_tokens=limit, session_usd=10**6)
    models = gateway([anthropic(messages_stub)], recorder, budgets=budgets)
    models.complete(ask(), scope=scope)  # reads, and remembers the totals
    # Another process spends most of what is left.
    recorder.record_llm(llm_record(session_id, input_tokens=limit, output_tokens=0))
    with pytest.raises(LLMBudgetExhaustedError) as raised:
        models.complete(ask(), scope=scope)
    assert raised.value.details["used_tokens"] > limit
