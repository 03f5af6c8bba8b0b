"""/api/v1/sessions over the real app and Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from faultmaven.container import Container
from tests.helpers import Api, assert_envelope


def test_create_without_client_makes_a_new_session_each_time(
    api: Api, container: Container
) -> None:
    user = api.user()
    first = api.call("POST", "/sessions", user)
    second = api.call("POST", "/sessions", user, json={})
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert a["session_id"] != b["session_id"]
    assert a["session_resumed"] is False
    assert a["user_id"] == user.user_id
    assert a["timeout_minutes"] == 60
    ttl = container.kv.ttl(f"session:{a['session_id']}")
    assert 3590 <= ttl <= 3600


def test_same_client_resumes_the_same_session(api: Api, container: Container) -> None:
    user = api.user()
    created = api.call("POST", "/sessions", user, json={"client_id": "chrome-ext-1"})
    resumed = api.call("POST", "/sessions", user, json={"client_id": "chrome-ext-1"})
    other = api.call("POST", "/sessions", user, json={"client_id": "dashboard"})
    assert created.status_code == 201
    assert resumed.status_code == 200
    assert resumed.json()["session_resumed"] is True
    assert resumed.json()["session_id"] == created.json()["session_id"]
    assert other.json()["session_id"] != created.json()["session_id"]
    assert (
        container.kv.get(f"session_client:{user.user_id}:chrome-ext-1")
        == created.json()["session_id"]
    )


def test_the_same_client_id_of_two_users_are_two_sessions(api: Api) -> None:
    ann, bob = api.user(), api.user()
    a = api.call("POST", "/sessions", ann, json={"client_id": "laptop"}).json()
    b = api.call("POST", "/sessions", bob, json={"client_id": "laptop"}).json()
    assert a["session_id"] != b["session_id"]
    assert b["session_resumed"] is False


def test_timeout_is_bounded_and_applied(api: Api, container: Container) -> None:
    user = api.user()
    for bad in (59, 481, "soon"):
        assert_envelope(api.call("POST", "/sessions", user, json={"timeout_minutes": bad}), 422)
    long = api.call("POST", "/sessions", user, json={"timeout_minutes": 480}).json()
    assert 28_790 <= container.kv.ttl(f"session:{long['session_id']}") <= 28_800


def test_heartbeat_extends_the_ttl(api: Api, container: Container) -> None:
    user = api.user()
    session = api.call("POST", "/sessions", user, json={"client_id": "c1"}).json()
    key = f"session:{session['session_id']}"
    container.kv.client.expire(key, 30)
    container.kv.client.expire(f"session_client:{user.user_id}:c1", 30)
    beat = api.call("POST", f"/sessions/{session['session_id']}/heartbeat", user)
    assert beat.status_code == 200
    assert beat.json()["last_activity_at"] >= session["last_activity_at"]
    assert container.kv.ttl(key) > 3500
    assert container.kv.ttl(f"session_client:{user.user_id}:c1") > 3500


def test_list_mine_is_paginated_and_only_mine(api: Api) -> None:
    user, other = api.user(), api.user()
    ids = {api.call("POST", "/sessions", user).json()["session_id"] for _ in range(3)}
    api.call("POST", "/sessions", other)
    page1 = api.call("GET", "/sessions?page=1&page_size=2", user).json()
    page2 = api.call("GET", "/sessions?page=2&page_size=2", user).json()
    assert page1["total"] == 3 and page1["total_pages"] == 2 and page1["page_size"] == 2
    assert {s["session_id"] for s in page1["items"] + page2["items"]} == ids
    assert len(page2["items"]) == 1


def test_expired_sessions_drop_out_of_the_list(api: Api, container: Container) -> None:
    user = api.user()
    kept = api.call("POST", "/sessions", user).json()
    gone = api.call("POST", "/sessions", user).json()
    container.kv.delete(f"session:{gone['session_id']}")  # what expiry does
    listing = api.call("GET", "/sessions", user).json()
    assert [s["session_id"] for s in listing["items"]] == [kept["session_id"]]
    assert container.kv.set_members(f"user_sessions:{user.user_id}") == {kept["session_id"]}


def test_delete_ends_the_session_and_frees_the_client(api: Api) -> None:
    user = api.user()
    session = api.call("POST", "/sessions", user, json={"client_id": "c1"}).json()
    assert api.call("DELETE", f"/sessions/{session['session_id']}", user).status_code == 204
    assert_envelope(
        api.call("GET", f"/sessions/{session['session_id']}", user), 404, "SESSION_NOT_FOUND"
    )
    fresh = api.call("POST", "/sessions", user, json={"client_id": "c1"})
    assert fresh.status_code == 201
    assert fresh.json()["session_id"] != session["session_id"]


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/heartbeat"), ("DELETE", "")]
)
def test_another_users_session_is_not_found(api: Api, method: str, suffix: str) -> None:
    owner, stranger = api.user(), api.user()
    session_id = api.call("POST", "/sessions", owner).json()["session_id"]
    assert_envelope(
        api.call(method, f"/sessions/{session_id}{suffix}", stranger), 404, "SESSION_NOT_FOUND"
    )
    assert api.call("GET", f"/sessions/{session_id}", owner).status_code == 200


def test_the_oldest_session_is_evicted_past_the_per_user_limit(
    api: Api, container: Container
) -> None:
    from faultmaven.sessions.service import SessionService

    limited = SessionService(container.kv, default_ttl_minutes=60, max_sessions_per_user=2)
    original = container.sessions
    container.sessions = limited
    try:
        user = api.user()
        first = api.call("POST", "/sessions", user).json()["session_id"]
        api.call("POST", "/sessions", user)
        api.call("POST", "/sessions", user)
        listing = api.call("GET", "/sessions", user).json()
    finally:
        container.sessions = original
    assert listing["total"] == 2
    assert first not in {s["session_id"] for s in listing["items"]}


def test_sessions_need_authentication(api: Api) -> None:
    assert_envelope(api.call("POST", "/sessions"), 401, "UNAUTHORIZED")
    assert_envelope(api.call("GET", "/sessions"), 401, "UNAUTHORIZED")


def test_a_short_session_does_not_shorten_the_index_of_a_long_one(
    api: Api, container: Container
) -> None:
    user = api.user()
    long = api.call("POST", "/sessions", user, json={"timeout_minutes": 480}).json()
    api.call("POST", "/sessions", user, json={"timeout_minutes": 60})
    assert container.kv.ttl(f"user_sessions:{user.user_id}") > 28_000
    assert long["session_id"] in {
        s["session_id"] for s in api.call("GET", "/sessions", user).json()["items"]
    }


def test_concurrent_creates_for_one_client_share_one_session(app: FastAPI, api: Api) -> None:
    user = api.user()

    def create(_: int) -> str:
        with TestClient(app) as client:
            response = client.post(
                "/api/v1/sessions", headers=user.headers, json={"client_id": "racy"}
            )
            assert response.status_code in (200, 201), response.text
            return str(response.json()["session_id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(create, range(16)))
    assert len(ids) == 1
    assert api.call("GET", "/sessions", user).json()["total"] == 1


def test_refreshing_an_ended_session_does_not_bring_it_back(api: Api, container: Container) -> None:
    from faultmaven.sessions.store import SessionStore

    user = api.user()
    created = api.call("POST", "/sessions", user, json={"client_id": "c"}).json()
    store = SessionStore(container.kv)
    record = store.get(created["session_id"])
    assert record is not None
    api.call("DELETE", f"/sessions/{created['session_id']}", user)
    assert store.refresh(record, 3600) is False
    assert store.get(created["session_id"]) is None
    assert store.client_session_id(user.user_id, "c") is None
