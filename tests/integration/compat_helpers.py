"""Calling `/compat/faultmaven` the way FaultMaven's copilot does: its paths, its headers
(a bearer token and `X-Session-Id`), its registration body."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import STRONG_PASSWORD

BASE = "/compat/faultmaven"


def bearer(tokens: dict[str, Any], session_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    if session_id:
        headers["X-Session-Id"] = session_id
    return headers


def register(client: TestClient) -> tuple[str, dict[str, Any]]:
    name = f"ext-{uuid.uuid4().hex[:10]}"
    response = client.post(
        f"{BASE}/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "display_name": "Ext User",
            "password": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return name, body


def signed_in(client: TestClient) -> dict[str, str]:
    """A fresh user's headers: token and the session registration opened."""
    _, tokens = register(client)
    return bearer(tokens, tokens["session_id"])
