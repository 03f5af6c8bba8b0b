"""Every case endpoint × every relation to the case.

viewer reads · collaborator reads and writes · owner and admin do everything ·
an analyst reads every case and changes none · a stranger gets 404 (never the object)
· no token gets 401. A refused request writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from faultmaven.container import Container
from tests.helpers import Api, User, assert_envelope
from tests.integration.case_state import fingerprint

READ, WRITE, MANAGE = "read", "write", "manage"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    needs: str
    body: dict[str, Any] | None = None
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/cases/{case}", READ),
    Endpoint("PATCH", "/cases/{case}", WRITE, {"title": "renamed"}),
    Endpoint("PATCH", "/cases/{case}", MANAGE, {"visibility": "private"}),
    Endpoint("DELETE", "/cases/{case}", MANAGE, ok=204),
    Endpoint("POST", "/cases/{case}/status", WRITE, {"status": "investigating", "reason": "r"}),
    Endpoint("GET", "/cases/{case}/status/history", READ),
    Endpoint("POST", "/cases/{case}/messages", WRITE, {"content": "hello"}, ok=201),
    Endpoint("GET", "/cases/{case}/messages", READ),
    Endpoint("POST", "/cases/{case}/hypotheses", WRITE, {"statement": "h2"}, ok=201),
    Endpoint("GET", "/cases/{case}/hypotheses", READ),
    Endpoint("GET", "/cases/{case}/hypotheses/{hypothesis}", READ),
    Endpoint(
        "PATCH", "/cases/{case}/hypotheses/{hypothesis}", WRITE, {"add_supporting_evidence": ["e"]}
    ),
    Endpoint("POST", "/cases/{case}/solutions", WRITE, {"title": "s2", "category": "fix"}, ok=201),
    Endpoint("GET", "/cases/{case}/solutions", READ),
    Endpoint("PATCH", "/cases/{case}/solutions/{solution}", WRITE, {"status": "applying"}),
    Endpoint(
        "POST", "/cases/{case}/participants", MANAGE, {"user_id": "{extra}", "role": "collaborator"}
    ),
    Endpoint("GET", "/cases/{case}/participants", READ),
    Endpoint("DELETE", "/cases/{case}/participants/{extra}", MANAGE, ok=204),
    Endpoint("GET", "/cases/{case}/audit", MANAGE),
]

ROLES = ["owner", "collaborator", "viewer", "analyst", "stranger", "admin", "anonymous"]
GRANTS = {
    "owner": {READ, WRITE, MANAGE},
    "admin": {READ, WRITE, MANAGE},
    "collaborator": {READ, WRITE},
    "viewer": {READ},
    "analyst": {READ},
    "stranger": set(),
}


def expected_status(role: str, endpoint: Endpoint) -> int:
    if role == "anonymous":
        return 401
    granted = GRANTS[role]
    if not granted:
        return 404
    return endpoint.ok if endpoint.needs in granted else 403


@dataclass
class World:
    users: dict[str, User | None]
    ids: dict[str, str]


@pytest.fixture
def world(api: Api, container: Container) -> World:
    owner, collaborator, viewer, stranger, extra = (api.user() for _ in range(5))
    admin = api.admin(container.auth.accounts)
    analyst = api.analyst(container.auth.accounts)
    # Private, and the analyst is in no team or organization: the role alone reads it.
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, collaborator, "collaborator")
    api.share(owner, case_id, viewer, "viewer")
    api.share(owner, case_id, extra, "viewer")
    hypothesis = api.call(
        "POST", f"/cases/{case_id}/hypotheses", owner, json={"statement": "h1"}
    ).json()
    solution = api.call(
        "POST", f"/cases/{case_id}/solutions", owner, json={"title": "s1", "category": "fix"}
    ).json()
    return World(
        users={
            "owner": owner,
            "collaborator": collaborator,
            "viewer": viewer,
            "analyst": analyst,
            "stranger": stranger,
            "admin": admin,
            "anonymous": None,
        },
        ids={
            "case": case_id,
            "hypothesis": hypothesis["hypothesis_id"],
            "solution": solution["solution_id"],
            "extra": extra.user_id,
        },
    )


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_authorization(
    api: Api, container: Container, world: World, endpoint: Endpoint, role: str
) -> None:
    before = fingerprint(container, world.ids["case"])
    kwargs: dict[str, Any] = {}
    if endpoint.body is not None:
        kwargs["json"] = _fill(endpoint.body, world.ids)
    response = api.call(
        endpoint.method, _fill(endpoint.path, world.ids), world.users[role], **kwargs
    )
    expected = expected_status(role, endpoint)
    if expected >= 400:
        body = assert_envelope(response, expected)
        if expected == 404:
            # Nothing about the case leaks: not its title, not its id's existence.
            assert "Checkout" not in response.text
            assert body["error_code"] == "CASE_NOT_FOUND"
        assert fingerprint(container, world.ids["case"]) == before
    else:
        assert response.status_code == expected, response.text


@pytest.mark.parametrize(
    "role", ["owner", "collaborator", "viewer", "analyst", "stranger", "admin"]
)
def test_the_case_list_shows_only_what_a_user_may_see(api: Api, world: World, role: str) -> None:
    listing = api.call("GET", "/cases", world.users[role]).json()
    visible = {c["case_id"]: c for c in listing["items"]}
    shown = role in {"owner", "collaborator", "viewer", "analyst"}
    assert (world.ids["case"] in visible) is shown
    if role == "analyst":
        assert visible[world.ids["case"]]["my_role"] == "viewer"
        shared = api.call("GET", "/cases?relation=shared", world.users[role]).json()
        assert world.ids["case"] in {c["case_id"] for c in shared["items"]}


def test_anonymous_cannot_list_or_create(api: Api) -> None:
    assert_envelope(api.call("GET", "/cases"), 401)
    assert_envelope(api.call("POST", "/cases", json={"title": "x"}), 401)
