"""The copilot extension's first calls against `/compat/faultmaven`, over HTTP in the
shapes its API layer sends and the fields it reads: reach the backend, read the
capabilities and the auth mode, register, sign in, open a session, recover from an
expired one, refresh and sign out; errors carry `detail` and `code`."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from faultmaven.app import CORS_ALLOW_HEADERS, create_app
from faultmaven.container import Container
from tests.helpers import STRONG_PASSWORD
from tests.integration.compat_helpers import BASE, bearer, register


def test_the_backend_is_reachable_and_says_what_it_is(client: TestClient) -> None:
    assert client.get(f"{BASE}/health").json()["status"] == "ok"
    for path in ("/api/v1/meta/capabilities", "/v1/meta/capabilities"):
        response = client.get(BASE + path, headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
        caps = response.json()
        assert caps["deploymentMode"] == "self-hosted" and caps["kbManagement"] == "dashboard"
        assert caps["features"]["extensionKB"] is False
        assert 0 < caps["limits"]["maxFileBytes"] <= 6 * 1024 * 1024
        assert ".log" in caps["limits"]["allowedExtensions"]
        assert 30 <= caps["limits"]["turnResponseBoundSeconds"] <= 1200
    config = client.get(f"{BASE}/api/v1/auth/config").json()
    assert config["auth_mode"] == "local" and config["supports_registration"] is True


def test_register_login_session_and_me_in_the_extensions_shapes(client: TestClient) -> None:
    name, registered = register(client)
    for body in (registered,):
        assert body["token_type"] == "bearer" and body["expires_in"] > 0
        assert body["refresh_token"] and body["session_id"].startswith("ses_")
        assert body["user"]["username"] == name and body["user"]["user_id"]
    # The extension sends the username (or the email) in `username`, empty fields omitted.
    for identifier in (name, f"{name}@example.com"):
        login = client.post(
            f"{BASE}/api/v1/auth/login", json={"username": identifier, "password": STRONG_PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert login.json()["user"]["email"] == f"{name}@example.com"
    tokens = login.json()
    client_id = str(uuid.uuid4())
    created = client.post(
        f"{BASE}/api/v1/sessions",
        headers=bearer(tokens),
        json={"client_id": client_id, "session_type": "troubleshooting", "timeout_minutes": 180},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["session_resumed"] is False and session["status"] == "active"
    again = client.post(
        f"{BASE}/api/v1/sessions",
        headers=bearer(tokens),
        json={"client_id": client_id, "session_type": "troubleshooting", "timeout_minutes": 180},
    )
    assert again.json()["session_id"] == session["session_id"]
    assert again.json()["session_resumed"] is True
    me = client.get(f"{BASE}/api/v1/auth/me", headers=bearer(tokens, session["session_id"]))
    assert me.status_code == 200 and me.json()["username"] == name
    beat = client.post(
        f"{BASE}/api/v1/sessions/{session['session_id']}/heartbeat", headers=bearer(tokens)
    )
    assert beat.status_code == 200, beat.text


def test_an_expired_session_is_the_401_the_extension_recovers_from(
    client: TestClient, container: Container
) -> None:
    _, tokens = register(client)
    session_id = tokens["session_id"]
    assert client.get(f"{BASE}/api/v1/auth/me", headers=bearer(tokens, session_id)).is_success
    ended = client.delete(f"/api/v1/sessions/{session_id}", headers=bearer(tokens))
    assert ended.status_code == 204
    for stale in (session_id, "ses_" + "0" * 32, "not-a-session"):
        response = client.get(f"{BASE}/api/v1/auth/me", headers=bearer(tokens, stale))
        assert response.status_code == 401
        assert response.json()["code"] == "SESSION_EXPIRED"
        assert response.headers["x-error-code"] == "SESSION_EXPIRED"
    # Another user's live session is no better than an expired one.
    _, stranger = register(client)
    foreign = client.get(f"{BASE}/api/v1/auth/me", headers=bearer(tokens, stranger["session_id"]))
    assert foreign.status_code == 401 and foreign.json()["code"] == "SESSION_EXPIRED"
    # A bad token is the other 401 (the extension signs its user out).
    bad = client.get(f"{BASE}/api/v1/auth/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["code"] != "SESSION_EXPIRED"
    # Recovery: a new session, and the call goes through.
    fresh = client.post(f"{BASE}/api/v1/sessions", headers=bearer(tokens), json={})
    assert fresh.status_code == 201
    me = client.get(f"{BASE}/api/v1/auth/me", headers=bearer(tokens, fresh.json()["session_id"]))
    assert me.status_code == 200


def test_refresh_and_logout(client: TestClient) -> None:
    _, tokens = register(client)
    refreshed = client.post(
        f"{BASE}/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    pair = refreshed.json()
    assert pair["access_token"] and pair["expires_in"] > 0
    assert pair["refresh_token"] != tokens["refresh_token"]
    out = client.post(f"{BASE}/api/v1/auth/logout", headers=bearer(pair, tokens["session_id"]))
    assert out.status_code == 200 and out.json()["all_sessions_ended"] is False
    after = client.get(f"{BASE}/api/v1/auth/me", headers=bearer(pair))
    assert after.status_code == 401
    gone = client.get(f"/api/v1/sessions/{tokens['session_id']}", headers=bearer(tokens))
    assert gone.status_code in (401, 404)


def test_errors_carry_detail_and_code_beside_our_envelope(client: TestClient) -> None:
    wrong = client.post(
        f"{BASE}/api/v1/auth/login", json={"username": "nobody-here", "password": "x" * 12}
    )
    assert wrong.status_code == 401
    body = wrong.json()
    assert body["code"] == body["error_code"] and body["detail"] == body["message"]
    invalid = client.post(
        f"{BASE}/api/v1/sessions",
        headers={"Authorization": "Bearer x"},
        json={"timeout_minutes": 5},
    )
    assert invalid.status_code == 401  # the token is checked first
    _, tokens = register(client)
    invalid = client.post(
        f"{BASE}/api/v1/sessions", headers=bearer(tokens), json={"timeout_minutes": 5}
    )
    assert invalid.status_code == 422
    problems = invalid.json()["detail"]
    assert problems[0]["loc"][-1] == "timeout_minutes" and problems[0]["msg"]
    missing = client.get(f"{BASE}/api/v1/no-such-call")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    # The native API keeps its envelope as it was.
    native = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert "detail" not in native.json() and "code" not in native.json()


def test_the_extensions_cross_origin_preflight_passes(container: Container) -> None:
    origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    settings = container.settings.model_copy(update={"cors_origins": [origin]})
    app = create_app(settings=settings, container=container)
    with TestClient(app) as cors:
        preflight = cors.options(
            f"{BASE}/api/v1/cases",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": (
                    "authorization,content-type,x-session-id,idempotency-key,x-user-id,x-user-roles"
                ),
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for header in CORS_ALLOW_HEADERS:
            assert header.lower() in allowed
        answer = cors.get(f"{BASE}/api/v1/auth/me", headers={"Origin": origin})
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert "x-error-code" in exposed and "x-title-source" in exposed
        stranger = cors.options(
            f"{BASE}/api/v1/cases",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers


def signed_in(client: TestClient) -> dict[str, str]:
    """A registered user's headers as the extension sends them (token and session)."""
    _, tokens = register(client)
    return bearer(tokens, tokens["session_id"])


def test_cases_in_the_extensions_shapes(client: TestClient) -> None:
    headers = signed_in(client)
    created = client.post(
        f"{BASE}/api/v1/cases",
        headers=headers,
        json={"title": None, "priority": "medium", "metadata": {"created_via": "extension"}},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-title-source"] == "generated"
    case = created.json()
    assert case["title"] and case["state"] == "inquiry" and case["enterprise_id"]
    assert case["user_id"] and case["closure_reason"] is None and case["is_terminal"] is False
    assert "investigating" in case["valid_next_states"]
    named = client.post(f"{BASE}/api/v1/cases", headers=headers, json={"title": "DB pool"})
    assert named.headers["x-title-source"] == "user" and named.json()["title"] == "DB pool"
    for _ in range(3):
        client.post(f"{BASE}/api/v1/cases", headers=headers, json={"title": None})
    listed = client.get(f"{BASE}/api/v1/cases?limit=2&offset=3", headers=headers).json()
    assert listed["total_count"] == 5 and listed["limit"] == 2 and listed["offset"] == 3
    assert len(listed["cases"]) == 2 and listed["has_more"] is False
    everything = client.get(f"{BASE}/api/v1/cases?limit=100&offset=0", headers=headers).json()
    ids = [c["case_id"] for c in everything["cases"]]
    assert [c["case_id"] for c in listed["cases"]] == ids[3:5]
    # An offset off a page boundary starts where it says.
    odd = client.get(f"{BASE}/api/v1/cases?limit=3&offset=1", headers=headers).json()
    assert [c["case_id"] for c in odd["cases"]] == ids[1:4]
    renamed = client.put(
        f"{BASE}/api/v1/cases/{case['case_id']}", headers=headers, json={"title": "Renamed"}
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    got = client.get(f"{BASE}/api/v1/cases/{case['case_id']}", headers=headers).json()
    assert got["title"] == "Renamed"
    inquiry = client.get(f"{BASE}/api/v1/cases?state=inquiry&limit=100", headers=headers)
    assert inquiry.json()["total_count"] == 5
    closed = client.get(f"{BASE}/api/v1/cases?state=closed", headers=headers).json()
    assert closed["cases"] == [] and closed["total_count"] == 0
    bad = client.get(f"{BASE}/api/v1/cases?state=open", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "state"
    # A stranger sees none of it and changes nothing.
    stranger = signed_in(client)
    assert client.get(f"{BASE}/api/v1/cases", headers=stranger).json()["total_count"] == 0
    for method, extra in (("GET", {}), ("PUT", {"json": {"title": "x"}}), ("DELETE", {})):
        response = client.request(
            method, f"{BASE}/api/v1/cases/{case['case_id']}", headers=stranger, **extra
        )
        assert response.status_code == 404 and response.json()["code"] == "CASE_NOT_FOUND"
    gone = client.delete(f"{BASE}/api/v1/cases/{case['case_id']}", headers=headers)
    assert gone.status_code == 204
    assert client.get(f"{BASE}/api/v1/cases/{case['case_id']}", headers=headers).status_code == 404


def test_messages_carry_their_role_and_turn(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = client.post(f"{BASE}/api/v1/cases", headers=headers, json={"title": "t"}).json()[
        "case_id"
    ]
    session_id = headers["X-Session-Id"]
    for question in ("Checkout times out", "What next?"):
        asked = client.post(
            f"/api/v1/cases/{case_id}/query",
            headers=headers,
            json={"session_id": session_id, "query": question},
        )
        assert asked.status_code == 200, asked.text
    listed = client.get(f"{BASE}/api/v1/cases/{case_id}/messages?limit=100", headers=headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total_count"] == len(body["messages"]) == body["retrieved_count"] >= 4
    assert body["has_more"] is False
    talk = [(m["role"], m["turn_number"]) for m in body["messages"] if m["role"] != "system"]
    assert talk[:4] == [("user", 1), ("assistant", 1), ("user", 2), ("assistant", 2)]
    later = client.get(
        f"{BASE}/api/v1/cases/{case_id}/messages?limit=1&offset=2", headers=headers
    ).json()
    assert later["messages"] == body["messages"][2:3] and later["has_more"] is True
    stranger = signed_in(client)
    hidden = client.get(f"{BASE}/api/v1/cases/{case_id}/messages", headers=stranger)
    assert hidden.status_code == 404


def test_sign_in_and_session_bodies_our_models_refuse_are_4xx(client: TestClient) -> None:
    long_name = client.post(
        f"{BASE}/api/v1/auth/login", json={"username": "u" * 100, "password": "whatever"}
    )
    assert long_name.status_code == 401 and long_name.json()["code"] == "INVALID_CREDENTIALS"
    _, tokens = register(client)
    # Metadata that fits alone but not with the session type beside it.
    crowded = client.post(
        f"{BASE}/api/v1/sessions",
        headers=bearer(tokens),
        json={"metadata": {"note": "x" * 4070}},
    )
    assert crowded.status_code == 422, crowded.text
    assert crowded.json()["detail"][0]["msg"]
