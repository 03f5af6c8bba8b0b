"""Shared steps of the agent tests: a user with a session, a case with evidence, a turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faultmaven.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import Api, User
from tests.integration.evidence_helpers import upload
from tests.llm_stubs import API_KEY

# Builds an app whose language model is the stub, with setting overrides.
Factory = Callable[..., Api]

POOL_LOG = (
    "2026-12-01T10:00:01Z INFO checkout-api request handled path=/cart status=200\n"
    + "".join(
        f"2026-12-01T10:{m:02d}:{s:02d}Z ERROR checkout-api HikariPool-1 - Connection is not "
        "available, request timed out after 30000ms (active=50, idle=0, waiting=212)\n"
        for m in range(2, 9)
        for s in (5, 25, 45)
    )
    + "2026-12-01T10:09:00Z WARN checkout-api retrying order 8812 for bob@example.org\n"
    + "2026-12-01T10:09:10Z ERROR checkout-api upstream 503 from ledger-service\n"
)

RUNBOOK = """# Database connection pool exhaustion

## Symptoms
Requests time out waiting for a connection: `Connection is not available, request timed out`.
The pool shows active at maximum and many waiting threads.

## Fix
1. Check for long-running transactions holding connections (`pg_stat_activity`).
2. Raise `maximumPoolSize` only after the leak is ruled out.
"""


def session_of(api: Api, user: User) -> str:
    response = api.call("POST", "/sessions", user, json={})
    assert response.status_code in (200, 201), response.text
    session_id: str = response.json()["session_id"]
    return session_id


def case_with_log(api: Api, user: User, **fields: Any) -> tuple[str, dict[str, Any]]:
    case = api.case(user, title="Checkout requests time out", **fields)
    evidence = upload(api, user, case["case_id"], "checkout-api.log", POOL_LOG.encode())
    assert evidence["status"] == "completed", evidence
    return case["case_id"], evidence


def add_runbook(api: Api, user: User, title: str = "DB pool exhaustion runbook") -> str:
    response = api.call(
        "POST", "/knowledge/documents", user, json={"title": title, "content": RUNBOOK}
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["document_id"]
    return document_id


def ask(api: Api, user: User, case_id: str, session_id: str, query: str, **extra: Any) -> Any:
    return api.call(
        "POST",
        f"/cases/{case_id}/query",
        user,
        json={"session_id": session_id, "query": query, **extra},
    )


def stub_settings(suite: Settings, stub_url: str, **overrides: Any) -> Settings:
    """The suite's stores and state machines, with the Anthropic provider pointed at the
    Messages stub (fast retries)."""
    values: dict[str, Any] = {
        "aws_endpoint_url": suite.aws_endpoint_url,
        "preprocessing_state_machine_arn": suite.preprocessing_state_machine_arn,
        "investigation_state_machine_arn": suite.investigation_state_machine_arn,
        "llm_provider": "anthropic",
        "anthropic_api_key": API_KEY,
        "anthropic_base_url": stub_url,
        "llm_backoff_base_seconds": 0.01,
        "llm_backoff_max_seconds": 0.02,
        **overrides,
    }
    return make_settings(suite.database_url or "", suite.redis_url or "", **values)
