"""Bad input gets a 4xx error envelope, never a 500, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from faultmaven.cases.models import MAX_MESSAGE_BYTES
from faultmaven.container import Container
from tests.helpers import Api, User, assert_envelope
from tests.integration.case_state import fingerprint

JSON = {"Content-Type": "application/json"}

# (method, path, raw body or JSON, expected status)
CASES: list[tuple[str, str, Any, int]] = [
    ("POST", "/cases/{case}/messages", b'{"content": "unterminated', 400),
    ("POST", "/cases/{case}/messages", b"\xff\xfe not utf-8", 400),
    ("POST", "/cases/{case}/messages", b"[1, 2, 3]", 422),
    ("POST", "/cases/{case}/messages", b"", 422),
    ("POST", "/cases/{case}/messages", {"content": 12345}, 422),
    ("POST", "/cases/{case}/messages", {"content": ""}, 422),
    ("POST", "/cases/{case}/messages", {"content": "x" * (MAX_MESSAGE_BYTES + 1)}, 422),
    ("POST", "/cases/{case}/messages", {"content": "hi", "type": "shout"}, 422),
    ("POST", "/cases/{case}/messages", {"content": "hi", "unexpected": True}, 422),
    ("PATCH", "/cases/{case}", {"title": "t" * 201}, 422),
    ("PATCH", "/cases/{case}", {"title": None}, 422),
    ("PATCH", "/cases/{case}", {"priority": "urgent"}, 422),
    ("PATCH", "/cases/{case}", {"tags": "not-a-list"}, 422),
    ("PATCH", "/cases/{case}", {"tags": ["has space"]}, 422),
    ("PATCH", "/cases/{case}", {}, 422),
    ("PATCH", "/cases/{case}", b"{'single': 'quotes'}", 400),
    ("POST", "/cases/{case}/status", {"status": "closed"}, 422),
    ("POST", "/cases/{case}/status", {"status": "investigating", "reason": "r" * 2001}, 422),
    ("POST", "/cases/{case}/hypotheses", {"statement": "x", "initial_likelihood": 1.5}, 422),
    ("POST", "/cases/{case}/hypotheses", {"statement": "x", "initial_likelihood": "high"}, 422),
    ("POST", "/cases/{case}/hypotheses", {"statement": "x", "category": "vibes"}, 422),
    ("PATCH", "/cases/{case}/hypotheses/{hypothesis}", {"turns_without_progress": -1}, 422),
    ("PATCH", "/cases/{case}/hypotheses/{hypothesis}", {"add_supporting_evidence": [""]}, 422),
    ("PATCH", "/cases/{case}/hypotheses/{hypothesis}", {"likelihood": 1.0}, 422),
    ("POST", "/cases/{case}/solutions", {"title": "x"}, 422),
    ("PATCH", "/cases/{case}/solutions/{solution}", {"status": "done"}, 422),
    ("POST", "/cases/{case}/participants", {"user_id": "usr_x", "role": "god"}, 422),
    ("POST", "/cases/{case}/participants", {"role": "viewer"}, 422),
    (
        "POST",
        "/cases/{case}/participants",
        {"user_id": "usr_x", "email": "a@b.co", "role": "viewer"},
        422,
    ),
    ("POST", "/cases/{case}/messages", b'{"content": "' + b"x" * (1024 * 1024) + b'"}', 413),
]


@pytest.fixture
def owner_and_case(api: Api) -> tuple[User, dict[str, str]]:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    hypothesis = api.call(
        "POST", f"/cases/{case_id}/hypotheses", owner, json={"statement": "h"}
    ).json()
    solution = api.call(
        "POST", f"/cases/{case_id}/solutions", owner, json={"title": "s", "category": "fix"}
    ).json()
    return owner, {
        "case": case_id,
        "hypothesis": hypothesis["hypothesis_id"],
        "solution": solution["solution_id"],
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    CASES,
    ids=[f"{c[0]} {c[1]} #{i}" for i, c in enumerate(CASES)],
)
def test_bad_input_is_refused_and_writes_nothing(
    api: Api,
    container: Container,
    owner_and_case: tuple[User, dict[str, str]],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    owner, ids = owner_and_case
    before = fingerprint(container, ids["case"])
    kwargs: dict[str, Any] = (
        {"content": body, "headers": JSON} if isinstance(body, bytes) else {"json": body}
    )
    response = api.call(method, path.format(**ids), owner, **kwargs)
    assert_envelope(response, status)
    assert fingerprint(container, ids["case"]) == before


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t" * 201},
        {"title": ""},
        {"title": 42},
        {"title": "x", "priority": "urgent"},
        {"title": "x", "visibility": "public"},
        {"title": "x", "tags": ["ok"] * 21},
        {"description": "no title"},
        {"title": "x", "owner_id": "usr_someone_else"},
    ],
)
def test_bad_case_creation_writes_nothing(api: Api, body: dict[str, Any]) -> None:
    owner = api.user()
    assert_envelope(api.call("POST", "/cases", owner, json=body), 422, "VALIDATION_FAILED")
    assert api.call("GET", "/cases", owner).json()["total"] == 0


def test_a_title_of_200_characters_is_fine(api: Api) -> None:
    owner = api.user()
    assert api.call("POST", "/cases", owner, json={"title": "t" * 200}).status_code == 201


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page_size=0",
        "page_size=101",
        "page=abc",
        "sort=owner_id",
        "status=closed",
        "priority=urgent",
        "relation=everyone",
        "q=",
    ],
)
def test_bad_list_parameters(api: Api, query: str) -> None:
    owner = api.user()
    assert_envelope(api.call("GET", f"/cases?{query}", owner), 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cases/case_doesnotexist"),
        ("GET", "/cases/" + "x" * 300),
        ("GET", "/cases/%00"),
        ("PATCH", "/cases/nope/hypotheses/nope"),
    ],
)
def test_unknown_or_absurd_ids_are_404(api: Api, method: str, path: str) -> None:
    owner = api.user()
    kwargs = {"json": {"statement": "x"}} if method == "PATCH" else {}
    assert_envelope(api.call(method, path, owner, **kwargs), 404)


def test_unknown_routes_and_methods_use_the_envelope(api: Api) -> None:
    owner = api.user()
    assert_envelope(api.call("GET", "/nothing-here", owner), 404, "NOT_FOUND")
    assert_envelope(api.call("PUT", "/cases", owner, json={}), 405, "METHOD_NOT_ALLOWED")


def test_a_caller_supplied_request_id_is_echoed_and_a_bad_one_replaced(api: Api) -> None:
    good = api.call("GET", "/nothing", headers={"X-Request-Id": "trace-abc-123"})
    assert good.headers["x-request-id"] == "trace-abc-123"
    assert good.json()["trace_id"] == "trace-abc-123"
    bad = api.call("GET", "/nothing", headers={"X-Request-Id": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/cases/{case}/messages", {"content": "nul \u0000 inside"}),
        ("PATCH", "/cases/{case}", {"title": "a\u0000b"}),
        ("POST", "/cases/{case}/messages", {"content": "ok", "metadata": {"k\u0000": 1}}),
    ],
)
def test_nul_characters_are_refused(
    api: Api,
    container: Container,
    owner_and_case: tuple[User, dict[str, str]],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    owner, ids = owner_and_case
    before = fingerprint(container, ids["case"])
    assert_envelope(
        api.call(method, path.format(**ids), owner, json=body), 422, "VALIDATION_FAILED"
    )
    assert fingerprint(container, ids["case"]) == before


def test_nul_in_a_query_string_is_a_4xx(api: Api) -> None:
    owner = api.user()
    assert_envelope(api.call("GET", "/cases?q=%00", owner), 422)
