"""Redis stopped, restarted, frozen and flushed under the running app: a real
redis-server of the test's own (the session-wide one is never disturbed)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from faultmaven.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import Api, User, assert_envelope
from tests.integration.faults import RedisProcess


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    with tempfile.TemporaryDirectory(prefix="fmr", dir="/tmp") as directory:
        server = RedisProcess(Path(directory))
        server.start()
        yield server
        server.stop()


@pytest.fixture
def faulty(settings: Settings, own_redis: RedisProcess) -> Iterator[tuple[Api, Container]]:
    container = build_container(
        make_settings(settings.database_url or "", own_redis.url, redis_timeout_seconds=0.5)
    )
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            yield Api(client), container
    finally:
        container.close()


def assert_unavailable(response: object) -> None:
    body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert body["details"]["dependency"] == "cache"


def authenticated_calls(api: Api, user: User) -> list[object]:
    return [
        api.call("GET", "/auth/me", user),
        api.call("GET", "/cases", user),
        api.call("POST", "/cases", user, json={"title": "disk full on db-1"}),
        api.call("POST", "/sessions", user, json={}),
        api.call("POST", "/auth/login", json={"username": user.username, "password": "x" * 12}),
    ]


def test_redis_down_is_503_with_retry_after_and_the_app_recovers(
    faulty: tuple[Api, Container], own_redis: RedisProcess
) -> None:
    api, _ = faulty
    user = api.user("ops")
    own_redis.stop()
    for response in authenticated_calls(api, user):
        assert_unavailable(response)
    # Rotation needs only PostgreSQL (the truth), but the new access token is not
    # accepted while its revocation cannot be checked: still failing closed.
    rotated = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200
    fresh = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    assert_unavailable(api.call("GET", "/auth/me", headers=fresh))
    own_redis.start()  # empty: everything cached is gone
    assert api.call("GET", "/auth/me", user).status_code == 200
    assert api.call("POST", "/cases", user, json={"title": "back"}).status_code == 201
    assert api.login("ops").token


def test_frozen_redis_is_503_after_the_timeout_and_the_app_recovers(
    faulty: tuple[Api, Container], own_redis: RedisProcess
) -> None:
    api, _ = faulty
    user = api.user("frozen")
    assert api.call("GET", "/auth/me", user).status_code == 200
    own_redis.freeze()
    try:
        for response in authenticated_calls(api, user):
            assert_unavailable(response)
    finally:
        own_redis.thaw()
    assert api.call("GET", "/auth/me", user).status_code == 200


def test_a_flushed_cache_does_not_bring_revoked_tokens_back(
    faulty: tuple[Api, Container],
) -> None:
    api, container = faulty
    user = api.user("leaver")
    spent = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert spent.status_code == 200
    current = spent.json()
    logged_out = User(
        user.user_id,
        user.username,
        user.email,
        current["access_token"],
        current["refresh_token"],
        {"Authorization": f"Bearer {current['access_token']}"},
    )
    assert (
        api.call(
            "POST", "/auth/logout", logged_out, json={"refresh_token": logged_out.refresh_token}
        ).status_code
        == 204
    )
    container.kv.client.flushdb()  # a failover, a fresh node, an eviction storm
    assert_envelope(api.call("GET", "/auth/me", logged_out), 401, "TOKEN_REVOKED")
    for refresh in (user.refresh_token, logged_out.refresh_token):
        replay = api.call("POST", "/auth/refresh", json={"refresh_token": refresh})
        assert_envelope(replay, 401, "TOKEN_REVOKED")
    container.kv.client.flushdb()  # and the answers just cached are not what decides
    assert_envelope(api.call("GET", "/auth/me", logged_out), 401, "TOKEN_REVOKED")


def test_a_flushed_cache_does_not_undo_a_deactivation(
    faulty: tuple[Api, Container],
) -> None:
    from faultmaven.auth.accounts import Accounts
    from faultmaven.auth.passwords import Passwords

    api, container = faulty
    admin = api.admin(Accounts(container.database, Passwords(1, 1024)))
    user = api.user("suspended")
    changed = api.call("PATCH", f"/auth/users/{user.user_id}", admin, json={"is_active": False})
    assert changed.status_code == 200
    container.kv.client.flushdb()
    assert_envelope(api.call("GET", "/auth/me", user), 401, "TOKEN_REVOKED")
    replay = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401
