"""/api/v1/auth over the real app, PostgreSQL and Redis."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import User as UserRow
from tests.conftest import TEST_JWT_SECRET
from tests.helpers import STRONG_PASSWORD, Api, User, assert_envelope


def register(api: Api, **body: object):  # type: ignore[no-untyped-def]
    payload = {"email": "ann@example.com", "username": "ann", "password": STRONG_PASSWORD}
    payload.update(body)
    return api.call("POST", "/auth/register", json=payload)


def test_register_returns_the_user_without_any_hash(api: Api, container: Container) -> None:
    response = register(api, display_name="Ann Oncall")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann@example.com"
    assert body["username"] == "ann"
    assert body["display_name"] == "Ann Oncall"
    assert body["roles"] == ["user"]
    assert body["user_id"].startswith("usr_")
    assert "password" not in response.text and "hash" not in response.text
    with container.database.session() as session:
        row = session.scalars(select(UserRow)).one()
        assert row.password_hash.startswith("$argon2id$")
        assert STRONG_PASSWORD not in row.password_hash


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"email": "ANN@example.com", "username": "other"}, "email"),
        ({"email": "other@example.com", "username": "ANN"}, "username"),
    ],
)
def test_duplicate_email_or_username_is_a_conflict(
    api: Api, second: dict[str, str], field: str
) -> None:
    assert register(api).status_code == 201
    body = assert_envelope(register(api, **second), 409, "USER_EXISTS")
    assert body["details"]["fields"] == [field]


@pytest.mark.parametrize(
    "password", ["password1", "aaaaaaaaaaaa", "ann@example.com1", "qwertyuiop"]
)
def test_weak_passwords_are_rejected(api: Api, password: str) -> None:
    body = assert_envelope(register(api, password=password), 422)
    assert body["error_code"] in {"WEAK_PASSWORD", "VALIDATION_FAILED"}
    assert password not in str(body)  # the input is never echoed


def test_short_password_is_a_validation_error_that_does_not_echo_it(api: Api) -> None:
    body = assert_envelope(register(api, password="Ab1!"), 422, "VALIDATION_FAILED")
    assert body["details"][0]["field"] == "password"
    assert "Ab1!" not in str(body)


def test_login_by_email_or_username(api: Api) -> None:
    register(api)
    for identifier in ({"email": "Ann@Example.com"}, {"username": "ann"}):
        response = api.call("POST", "/auth/login", json={**identifier, "password": STRONG_PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        claims = jwt.decode(
            body["access_token"], TEST_JWT_SECRET, algorithms=["HS256"], issuer="faultmaven"
        )
        assert claims["typ"] == "access"
        me = api.call(
            "GET", "/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.json()["username"] == "ann"
        assert me.json()["last_login_at"] is not None


def test_bad_credentials_look_the_same_whether_or_not_the_user_exists(api: Api) -> None:
    register(api)
    wrong_password = api.call(
        "POST", "/auth/login", json={"username": "ann", "password": "nope-nope"}
    )
    no_user = api.call("POST", "/auth/login", json={"username": "nobody", "password": "nope-nope"})
    first = assert_envelope(wrong_password, 401, "INVALID_CREDENTIALS")
    second = assert_envelope(no_user, 401, "INVALID_CREDENTIALS")
    assert first["message"] == second["message"]


def test_login_needs_exactly_one_identifier(api: Api) -> None:
    both = api.call(
        "POST", "/auth/login", json={"email": "a@b.c", "username": "ann", "password": "x"}
    )
    assert_envelope(both, 422, "VALIDATION_FAILED")
    assert_envelope(
        api.call("POST", "/auth/login", json={"password": "x"}), 422, "VALIDATION_FAILED"
    )


def test_refresh_rotates_and_a_spent_refresh_token_is_refused(api: Api) -> None:
    user = api.user("rita")
    first = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    new_pair = first.json()
    assert new_pair["access_token"] != user.token
    replay = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_envelope(replay, 401, "TOKEN_REVOKED")
    again = api.call("POST", "/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert again.status_code == 200


def test_an_access_token_is_not_a_refresh_token(api: Api) -> None:
    user = api.user()
    assert_envelope(
        api.call("POST", "/auth/refresh", json={"refresh_token": user.token}), 401, "INVALID_TOKEN"
    )
    refresh_as_access = {"Authorization": f"Bearer {user.refresh_token}"}
    assert_envelope(api.call("GET", "/auth/me", headers=refresh_as_access), 401, "INVALID_TOKEN")


def test_logout_revokes_the_access_and_refresh_tokens(api: Api, container: Container) -> None:
    user = api.user()
    response = api.call("POST", "/auth/logout", user, json={"refresh_token": user.refresh_token})
    assert response.status_code == 204
    assert_envelope(api.call("GET", "/auth/me", user), 401, "TOKEN_REVOKED")
    refused = api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_envelope(refused, 401, "TOKEN_REVOKED")
    # The denylist entry expires with the token, not before and not never.
    claims = jwt.decode(user.token, TEST_JWT_SECRET, algorithms=["HS256"], issuer="faultmaven")
    ttl = container.kv.ttl(f"token_denylist:{claims['jti']}")
    assert 0 < ttl <= claims["exp"] - int(time.time()) + 10


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJub25lIn0.e30."],
)
def test_missing_or_invalid_tokens_are_401_with_the_envelope(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    body = assert_envelope(api.call("GET", "/auth/me", headers=headers), 401)
    assert body["error_code"] in {"UNAUTHORIZED", "INVALID_TOKEN"}


def test_expired_and_foreign_tokens_are_refused(api: Api) -> None:
    user = api.user()
    now = int(time.time())
    base = {"sub": user.user_id, "typ": "access", "jti": "tok_x", "iss": "faultmaven", "roles": []}
    expired = jwt.encode({**base, "iat": now - 3600, "exp": now - 60}, TEST_JWT_SECRET, "HS256")
    forged = jwt.encode({**base, "iat": now, "exp": now + 60}, "another-key-" + "y" * 40, "HS256")
    assert_envelope(
        api.call("GET", "/auth/me", headers={"Authorization": f"Bearer {expired}"}),
        401,
        "TOKEN_EXPIRED",
    )
    assert_envelope(
        api.call("GET", "/auth/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "INVALID_TOKEN",
    )


def make_admin(api: Api, container: Container) -> User:
    return api.admin(container.auth.accounts)


def test_deactivating_a_user_revokes_their_tokens_at_once(api: Api, container: Container) -> None:
    admin, user = make_admin(api, container), api.user()
    response = api.call("PATCH", f"/auth/users/{user.user_id}", admin, json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert_envelope(api.call("GET", "/auth/me", user), 401, "TOKEN_REVOKED")
    assert_envelope(
        api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token}), 401
    )
    login = api.call(
        "POST", "/auth/login", json={"username": user.username, "password": STRONG_PASSWORD}
    )
    assert_envelope(login, 401, "INVALID_CREDENTIALS")
    # Reactivated, the user logs in again; the old tokens stay dead.
    api.call("PATCH", f"/auth/users/{user.user_id}", admin, json={"is_active": True})
    time.sleep(1.05)  # tokens carry whole-second issue times
    again = api.call(
        "POST", "/auth/login", json={"username": user.username, "password": STRONG_PASSWORD}
    )
    assert again.status_code == 200
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert api.call("GET", "/auth/me", headers=fresh).status_code == 200
    assert_envelope(api.call("GET", "/auth/me", user), 401, "TOKEN_REVOKED")


def test_granting_a_role_takes_effect_with_the_next_login(api: Api, container: Container) -> None:
    admin, analyst = make_admin(api, container), api.user()
    granted = api.call(
        "PATCH", f"/auth/users/{analyst.user_id}", admin, json={"roles": ["analyst"]}
    )
    assert granted.json()["roles"] == ["analyst", "user"]
    assert_envelope(api.call("GET", "/auth/me", analyst), 401, "TOKEN_REVOKED")


def test_deleted_users_lose_access_and_free_their_names(api: Api, container: Container) -> None:
    admin, user = make_admin(api, container), api.user("leaver")
    assert api.call("DELETE", f"/auth/users/{user.user_id}", admin).status_code == 204
    assert_envelope(api.call("GET", "/auth/me", user), 401)
    assert api.call("GET", "/auth/users?q=leaver", admin).json()["total"] == 0
    assert register(api, email="leaver@example.com", username="leaver").status_code == 201
    assert_envelope(api.call("DELETE", f"/auth/users/{user.user_id}", admin), 404, "USER_NOT_FOUND")


def test_user_administration_is_for_admins_only(api: Api, container: Container) -> None:
    admin, user = make_admin(api, container), api.user()
    assert_envelope(api.call("GET", "/auth/users", user), 403, "ADMIN_ONLY")
    assert_envelope(
        api.call("PATCH", f"/auth/users/{admin.user_id}", user, json={"is_active": False}), 403
    )
    assert_envelope(api.call("DELETE", f"/auth/users/{admin.user_id}", user), 403)
    listing = api.call("GET", "/auth/users?page_size=1", admin).json()
    assert (listing["total"], listing["total_pages"], len(listing["items"])) == (2, 2, 1)
    assert "password_hash" not in str(listing)


def test_admins_cannot_lock_themselves_out(api: Api, container: Container) -> None:
    admin = make_admin(api, container)
    for body in ({"is_active": False}, {"roles": ["user"]}):
        assert_envelope(
            api.call("PATCH", f"/auth/users/{admin.user_id}", admin, json=body), 409, "SELF_LOCKOUT"
        )
    assert_envelope(api.call("DELETE", f"/auth/users/{admin.user_id}", admin), 409, "SELF_LOCKOUT")
    assert_envelope(
        api.call("PATCH", f"/auth/users/{admin.user_id}", admin, json={"roles": ["root"]}), 422
    )
    assert_envelope(api.call("PATCH", f"/auth/users/{admin.user_id}", admin, json={}), 422)


def test_passwords_and_tokens_never_reach_the_logs(api: Api) -> None:
    import io
    import logging

    from faultmaven.core.logging import logger

    # The same JSON formatter production uses, writing into a buffer.
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_handler.formatter)
    previous = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        user = api.user("logcheck")
        api.call(
            "POST",
            "/auth/login",
            json={"username": "logcheck", "password": "wrong-" + STRONG_PASSWORD},
        )
        api.call("GET", "/auth/me", user)
        api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
        logger.info("diagnostic", extra={"authorization": f"Bearer {user.token}"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    logs = buffer.getvalue()
    assert '"message":"request"' in logs  # the access log was captured
    assert '"authorization":"[REDACTED]"' in logs
    assert STRONG_PASSWORD not in logs
    assert user.token not in logs
    assert user.refresh_token not in logs


def test_repeated_failed_logins_are_throttled_per_account(api: Api, container: Container) -> None:
    from faultmaven.auth.throttle import FREE_FAILURES_PER_PAIR

    user = api.user("target")
    for _ in range(FREE_FAILURES_PER_PAIR):
        bad = api.call(
            "POST", "/auth/login", json={"username": "target", "password": "guess-guess"}
        )
        assert_envelope(bad, 401, "INVALID_CREDENTIALS")
    # Now even the right password waits: the limit is checked before verifying.
    blocked = api.call(
        "POST", "/auth/login", json={"username": "TARGET", "password": STRONG_PASSWORD}
    )
    body = assert_envelope(blocked, 429, "RATE_LIMITED")
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    assert body["details"]["retry_after_seconds"] == int(blocked.headers["retry-after"])
    # Other accounts are unaffected, and the user's existing token still works.
    api.user("bystander")
    assert api.call("GET", "/auth/me", user).status_code == 200


def test_a_successful_login_resets_the_account_counter(api: Api) -> None:
    api.user("forgetful")
    for _ in range(5):
        api.call("POST", "/auth/login", json={"username": "forgetful", "password": "guess-guess"})
    ok = api.call(
        "POST", "/auth/login", json={"username": "forgetful", "password": STRONG_PASSWORD}
    )
    assert ok.status_code == 200
    for _ in range(9):
        bad = api.call(
            "POST", "/auth/login", json={"username": "forgetful", "password": "guess-guess"}
        )
        assert bad.status_code == 401


def test_email_and_username_share_one_failure_budget(api: Api) -> None:
    user = api.user("shared")
    for i in range(10):
        identifier = {"username": "shared"} if i % 2 else {"email": user.email}
        api.call("POST", "/auth/login", json={**identifier, "password": "guess-guess"})
    blocked = api.call(
        "POST", "/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    )
    assert_envelope(blocked, 429, "RATE_LIMITED")


def test_a_refresh_token_rotates_exactly_once_under_concurrent_use(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    user = api.user("racer")
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    api.call(
                        "POST", "/auth/refresh", json={"refresh_token": user.refresh_token}
                    ).status_code
                ),
                range(6),
            )
        )
    assert sorted(statuses) == [200] + [401] * 5


def test_a_login_forgets_the_users_expired_token_rows(api: Api, container: Container) -> None:
    from datetime import UTC, datetime, timedelta

    from faultmaven.db.tables import RefreshToken, RevokedAccessToken

    user = api.user("tidy")
    past = datetime.now(UTC) - timedelta(days=1)
    with container.database.session() as session:
        session.add(
            RefreshToken(
                token_id="tok_" + "0" * 32, user_id=user.user_id, issued_at=past, expires_at=past
            )
        )
        session.add(
            RevokedAccessToken(
                token_id="tok_" + "1" * 32, user_id=user.user_id, revoked_at=past, expires_at=past
            )
        )
    api.login("tidy")
    with container.database.session() as session:
        tokens = {t.token_id for t in session.scalars(select(RefreshToken))}
        revoked = session.scalars(select(RevokedAccessToken)).all()
    assert "tok_" + "0" * 32 not in tokens
    assert len(tokens) == 2  # the two live logins' refresh tokens
    assert revoked == []
