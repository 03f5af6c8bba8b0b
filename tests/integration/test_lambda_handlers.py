"""Each Lambda entry point, invoked with a real-shaped API Gateway v2 event from `events/`,
over the real PostgreSQL and Redis."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from faultmaven.core.settings import Settings, get_settings
from tests.conftest import ROOT, TEST_JWT_SECRET
from tests.helpers import ENVELOPE_KEYS, STRONG_PASSWORD, Api
from tests.llm_stubs import API_KEY

EVENTS = ROOT / "events" / "apigw"


@dataclass
class LambdaContext:
    """The attributes the Lambda runtime's context object carries."""

    function_name: str = "faultmaven-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:faultmaven-api"
    aws_request_id: str = "6f1c2b7d-5e6a-4b8c-9d0e-1f2a3b4c5d6e"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_event(name: str, **values: str) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"unfilled placeholder in {name}"
    event: dict[str, Any] = json.loads(text)
    return event


@pytest.fixture
def load_handler(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[Callable[[str], ModuleType]]:
    """Import a handler module the way Lambda does: a fresh module, configured only by
    environment variables."""
    for name, value in {
        "FAULTMAVEN_ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "FAULTMAVEN_JWT_SECRET": TEST_JWT_SECRET,
        "FAULTMAVEN_PASSWORD_HASH_TIME_COST": "1",
        "FAULTMAVEN_PASSWORD_HASH_MEMORY_KIB": "1024",
        "FAULTMAVEN_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    loaded: list[ModuleType] = []

    def load(function: str) -> ModuleType:
        path = ROOT / "functions" / function / "handler.py"
        spec = importlib.util.spec_from_file_location(f"handler_{function}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        module.app.state.container.close()
    get_settings.cache_clear()


def invoke(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = module.handler(event, LambdaContext())
    body = json.loads(response["body"]) if response.get("body") else {}
    return response["statusCode"], body, response.get("headers", {})


def test_login_event(api: Api, load_handler: Callable[[str], ModuleType]) -> None:
    api.call(
        "POST",
        "/auth/register",
        json={"email": "oncall@example.com", "username": "oncall-sre", "password": STRONG_PASSWORD},
    )
    status, body, headers = invoke(
        load_handler("api_auth"), load_event("auth_login", PASSWORD=STRONG_PASSWORD)
    )
    assert status == 200, body
    assert body["token_type"] == "bearer"
    assert body["access_token"] and body["refresh_token"]
    # The API Gateway request id becomes the correlation id.
    assert headers["x-request-id"] == "KpT3rgLogin0Ew="


def test_login_event_with_a_wrong_password_is_401(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    status, body, _ = invoke(load_handler("api_auth"), load_event("auth_login", PASSWORD="wrong"))
    assert status == 401
    assert body["error_code"] == "INVALID_CREDENTIALS"


def test_create_and_get_case_events(api: Api, load_handler: Callable[[str], ModuleType]) -> None:
    user = api.user("oncall-sre")
    cases = load_handler("api_cases")
    status, created, _ = invoke(cases, load_event("cases_create", ACCESS_TOKEN=user.token))
    assert status == 201, created
    assert created["title"].startswith("Checkout p99")
    assert created["owner_id"] == user.user_id
    assert created["status"] == "active"
    status, fetched, _ = invoke(
        cases, load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID=created["case_id"])
    )
    assert status == 200
    assert fetched == created
    # The case is really in PostgreSQL: the local app sees it too.
    assert api.call("GET", f"/cases/{created['case_id']}", user).json()["title"] == created["title"]


def test_get_case_event_for_a_stranger_is_404(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    owner, stranger = api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    status, body, _ = invoke(
        load_handler("api_cases"),
        load_event("cases_get", ACCESS_TOKEN=stranger.token, CASE_ID=case_id),
    )
    assert status == 404
    assert body["error_code"] == "CASE_NOT_FOUND"


def test_sessions_handler_serves_only_sessions(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    user = api.user()
    sessions = load_handler("api_sessions")
    event = load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID="x")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/v1/sessions"
    event["requestContext"]["http"]["method"] = "POST"
    status, body, _ = invoke(sessions, event)
    assert status == 201, body
    assert body["user_id"] == user.user_id
    # Routes of other domains do not exist in this function.
    status, body, _ = invoke(
        sessions, load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID="x")
    )
    assert status == 404
    assert body["error_code"] == "NOT_FOUND"


def test_handlers_keep_their_pools_across_invocations(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    user = api.user()
    cases = load_handler("api_cases")
    container = cases.app.state.container
    for _ in range(3):
        status, _, _ = invoke(cases, load_event("cases_create", ACCESS_TOKEN=user.token))
        assert status == 201
    assert cases.app.state.container is container
    assert container.database.engine.pool.checkedout() == 0


def test_events_are_valid_http_api_v2(load_handler: Callable[[str], ModuleType]) -> None:
    for path in Path(EVENTS).glob("*.json"):
        event = json.loads(path.read_text())
        assert event["version"] == "2.0"
        assert event["requestContext"]["http"]["path"] == event["rawPath"]


def test_login_limits_use_api_gateways_source_ip_not_forwarded_headers(
    load_handler: Callable[[str], ModuleType],
) -> None:
    from faultmaven.auth.throttle import MAX_FAILURES_PER_ADDRESS

    handler = load_handler("api_auth")
    statuses = []
    for i in range(MAX_FAILURES_PER_ADDRESS + 3):
        event = load_event("auth_login", PASSWORD="wrong")
        event["headers"]["x-forwarded-for"] = f"10.1.{i // 250}.{i % 250}"
        event["body"] = json.dumps({"username": f"sprayed{i}", "password": "wrong"})
        statuses.append(invoke(handler, event)[0])
    assert statuses[:MAX_FAILURES_PER_ADDRESS] == [401] * MAX_FAILURES_PER_ADDRESS
    assert set(statuses[MAX_FAILURES_PER_ADDRESS:]) == {429}


# --- the agent function ----------------------------------------------------------------


@pytest.mark.parametrize("provider", ["offline", "anthropic"])
def test_agent_health_event_names_the_configured_provider(
    provider: str,
    api: Api,
    load_handler: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    messages_stub: Any,
) -> None:
    """The health route answers from the function's own configuration, as Lambda gives
    it: environment variables only."""
    if provider == "anthropic":
        monkeypatch.setenv("FAULTMAVEN_LLM_PROVIDER", "anthropic")
        monkeypatch.setenv("FAULTMAVEN_ANTHROPIC_API_KEY", API_KEY)
        monkeypatch.setenv("FAULTMAVEN_ANTHROPIC_BASE_URL", messages_stub.base_url)
    user = api.user()
    status, body, headers = invoke(
        load_handler("api_agent"), load_event("agent_health", ACCESS_TOKEN=user.token)
    )
    assert status == 200, body
    assert body["provider"] == provider
    assert headers["x-request-id"] == "KpT3rgAgentH0E="
    assert messages_stub.requests == []  # health calls no model


def test_agent_query_event_without_a_token_is_401_with_the_envelope(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    event = load_event(
        "agent_query", ACCESS_TOKEN="unused", CASE_ID=case_id, SESSION_ID="ses_" + "1" * 32
    )
    del event["headers"]["authorization"]
    status, body, headers = invoke(load_handler("api_agent"), event)
    assert status == 401
    assert set(body) == ENVELOPE_KEYS
    assert body["error_code"] == "UNAUTHORIZED"
    assert body["trace_id"] == headers["x-request-id"] == "KpT3rgQuery00E="
    assert headers["www-authenticate"] == "Bearer"
    # Nothing was stored for the case.
    assert api.call("GET", f"/cases/{case_id}/messages", owner).json()["total"] == 0


def test_agent_query_event_runs_a_turn_and_stores_both_messages(
    api: Api, load_handler: Callable[[str], ModuleType]
) -> None:
    """A whole turn through the real handler with the offline analyst (no key in the
    environment): the contract's answer, and the question and answer in the case."""
    user = api.user()
    case_id = api.case(user)["case_id"]
    session_id = api.call("POST", "/sessions", user, json={}).json()["session_id"]
    status, body, _ = invoke(
        load_handler("api_agent"),
        load_event("agent_query", ACCESS_TOKEN=user.token, CASE_ID=case_id, SESSION_ID=session_id),
    )
    assert status == 200, body
    assert body["schema_version"] == "3.1.0"
    assert body["metadata"]["provider"] == "offline"
    assert body["content"]
    messages = api.call("GET", f"/cases/{case_id}/messages", user).json()
    assert messages["total"] == 2


def test_a_snapstart_init_of_the_agent_builds_its_model_client(
    load_handler: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    messages_stub: Any,
) -> None:
    """The agent is the API function that calls the model: its snapshot must hold the
    SDK and the client (≈ 2 s of import otherwise paid by the first turn after a
    restore), and warming it must send nothing."""
    monkeypatch.setenv("FAULTMAVEN_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("FAULTMAVEN_ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("FAULTMAVEN_ANTHROPIC_BASE_URL", messages_stub.base_url)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    container = load_handler("api_agent").app.state.container
    assert "language_models" in container.__dict__
    assert container.language_models.primary._client is not None
    assert messages_stub.requests == []
