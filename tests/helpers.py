"""Test helpers that speak to the API the way a client does."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from faultmaven.auth.accounts import Accounts
from faultmaven.auth.models import RegisterRequest, Role

STRONG_PASSWORD = "correct-Horse-battery-staple-42"
_counter = itertools.count(1)

ENVELOPE_KEYS = {"error_code", "message", "details", "trace_id", "timestamp"}


class HttpClient(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


@dataclass
class User:
    user_id: str
    username: str
    email: str
    token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)


def assert_envelope(response: Any, status: int, error_code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    if response.url.path.startswith("/compat/faultmaven/"):
        # FaultMaven's own clients read `detail` and `code` beside the envelope.
        assert set(body) == ENVELOPE_KEYS | {"detail", "code"}, body
        assert body["code"] == body["error_code"] == response.headers["x-error-code"]
    else:
        assert set(body) == ENVELOPE_KEYS, body
    assert body["trace_id"] == response.headers["x-request-id"]
    if error_code is not None:
        assert body["error_code"] == error_code, body
    return body


class Api:
    def __init__(self, client: HttpClient, prefix: str = "/api/v1") -> None:
        self.client = client
        self.prefix = prefix

    def call(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user is not None:
            headers.update(user.headers)
        return self.client.request(method, self.prefix + path, headers=headers, **kwargs)

    def user(self, name: str | None = None, **extra: Any) -> User:
        """Register and log in a fresh user."""
        name = name or f"user{next(_counter)}"
        email = f"{name}@example.com"
        registered = self.call(
            "POST",
            "/auth/register",
            json={"email": email, "username": name, "password": STRONG_PASSWORD, **extra},
        )
        assert registered.status_code == 201, registered.text
        return _signed_in(registered.json()["user_id"], name, email, self._tokens(name))

    def login(self, username: str, password: str = STRONG_PASSWORD) -> User:
        """Log an existing account in (its id and email come from /auth/me)."""
        tokens = self._tokens(username, password)
        me = self.call("GET", "/auth/me", headers=_bearer(tokens["access_token"])).json()
        return _signed_in(me["user_id"], username, me["email"], tokens)

    def admin(self, accounts: Accounts) -> User:
        """An administrator, created the way `faultmaven admin create` does, logged in."""
        accounts.create_admin(
            RegisterRequest(email="root@example.com", username="root", password=STRONG_PASSWORD)
        )
        return self.login("root")

    def analyst(self, accounts: Accounts) -> User:
        """An analyst (read-only on every case), created directly with that role."""
        accounts.register(
            RegisterRequest(
                email="analyst@example.com", username="analyst", password=STRONG_PASSWORD
            ),
            roles=(Role.USER, Role.ANALYST),
        )
        return self.login("analyst")

    def _tokens(self, username: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
        response = self.call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def case(self, owner: User, **fields: Any) -> dict[str, Any]:
        response = self.call("POST", "/cases", owner, json={"title": "Checkout latency", **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def share(self, owner: User, case_id: str, user: User, role: str) -> None:
        response = self.call(
            "POST",
            f"/cases/{case_id}/participants",
            owner,
            json={"user_id": user.user_id, "role": role},
        )
        assert response.status_code in (200, 201), response.text


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed_in(user_id: str, username: str, email: str, tokens: dict[str, Any]) -> User:
    return User(
        user_id=user_id,
        username=username,
        email=email,
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        headers=_bearer(tokens["access_token"]),
    )


def free_port() -> int:
    """A loopback port nothing listens on now (for a server the test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    """Poll `check` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
