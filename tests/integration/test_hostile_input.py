"""Requests a stranger can send to turn the API into a 500, or into a lie: answered with a
4xx in the error envelope on every route, with nothing logged as a crash."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from faultmaven.app import MAX_BODY_BYTES, MAX_JSON_DEPTH, openapi_document
from faultmaven.auth.models import MAX_PASSWORD_CHARS
from faultmaven.container import Container
from faultmaven.core.logging import logger
from faultmaven.local.cli import app as cli
from tests.helpers import Api, User, assert_envelope
from tests.integration.case_state import fingerprint

JSON = {"Content-Type": "application/json"}
DOCUMENT = openapi_document()
# Every operation that takes a body, with its path parameters filled in (the checks here
# run before routing resolves them, so any value will do).
BODY_OPERATIONS = sorted(
    (method.upper(), re.sub(r"\{[^}]+\}", "x", path).removeprefix("/api/v1"))
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if "requestBody" in operation
)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.fixture
def owner(api: Api) -> User:
    return api.user()


# --- 1. JSON nested too deep -------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 330, 989, 50_000])
def test_deeply_nested_json_is_a_400_on_every_route(
    api: Api,
    log_records: list[logging.LogRecord],
    method: str,
    path: str,
    depth: int,
) -> None:
    for body in (nested_array(depth), nested_object(depth)):
        # Anonymous on purpose: a stranger reaches this before any authentication.
        response = api.call(method, path, content=body, headers=JSON)
        assert_envelope(response, 400, "JSON_TOO_DEEP")
    assert not [r for r in log_records if r.exc_info or r.levelno >= logging.ERROR]


def test_deep_json_is_refused_before_login_too(api: Api) -> None:
    wrapped = b'{"username": "someone", "password": "x", "extra": ' + nested_array(400) + b"}"
    assert_envelope(api.call("POST", "/auth/login", content=wrapped), 400, "JSON_TOO_DEEP")
    # Without a Content-Type the body is not JSON to FastAPI (strict content types),
    # but the bound applies anyway: a route may opt out of strictness.
    response = api.call("POST", "/auth/login", content=wrapped, headers={"Content-Type": ""})
    assert response.status_code in (400, 422)
    assert_envelope(response, response.status_code)


def test_json_as_deep_as_the_limit_is_accepted(api: Api, owner: User) -> None:
    case_id = api.case(owner)["case_id"]
    metadata: dict[str, Any] = {}
    inner = metadata
    for _ in range(MAX_JSON_DEPTH - 2):  # the body and `metadata` are two levels
        inner["a"] = {}
        inner = inner["a"]
    body = {"content": "[" * 500 + "{" * 500, "metadata": metadata}  # brackets in text
    response = api.call("POST", f"/cases/{case_id}/messages", owner, json=body)
    assert response.status_code == 201, response.text
    metadata_too_deep: dict[str, Any] = {"a": metadata}
    response = api.call(
        "POST",
        f"/cases/{case_id}/messages",
        owner,
        json={"content": "x", **{"metadata": metadata_too_deep}},
    )
    assert_envelope(response, 400, "JSON_TOO_DEEP")


# --- 2. Passwords up to the documented length ---------------------------------------------


def _passphrase(length: int) -> str:
    words = "Quartz-lantern-orbit-velvet-9-harbor-Cinder-tundra-Mosaic-47-falcon-"
    return (words * (length // len(words) + 1))[:length]


@pytest.mark.parametrize("length", [72, 73, 100, MAX_PASSWORD_CHARS])
def test_a_long_password_registers_and_logs_in(api: Api, length: int) -> None:
    password = _passphrase(length)
    registered = api.call(
        "POST",
        "/auth/register",
        json={
            "email": f"long{length}@example.com",
            "username": f"long{length}",
            "password": password,
        },
    )
    assert registered.status_code == 201, registered.text
    login = api.call(
        "POST", "/auth/login", json={"username": f"long{length}", "password": password}
    )
    assert login.status_code == 200, login.text
    # The whole password is what counts, not the prefix the strength check reads.
    wrong = api.call(
        "POST", "/auth/login", json={"username": f"long{length}", "password": password[:-1] + "#"}
    )
    assert_envelope(wrong, 401)


def test_a_password_over_the_limit_is_a_422_naming_it(api: Api) -> None:
    body = {"email": "over@example.com", "username": "over", "password": _passphrase(129)}
    refused = assert_envelope(
        api.call("POST", "/auth/register", json=body), 422, "VALIDATION_FAILED"
    )
    assert [d["field"] for d in refused["details"]] == ["password"]
    login = api.call("POST", "/auth/login", json={"username": "over", "password": "x" * 129})
    assert_envelope(login, 422, "VALIDATION_FAILED")


def test_a_long_password_with_a_guessable_start_is_weak(api: Api) -> None:
    body = {
        "email": "weak@example.com",
        "username": "weakling",
        "password": "a" * 80 + "Zq9!-tundra-Mosaic",
    }
    assert_envelope(api.call("POST", "/auth/register", json=body), 422, "WEAK_PASSWORD")


def test_the_admin_cli_takes_the_same_long_passwords(api: Api, container: Container) -> None:
    password = _passphrase(MAX_PASSWORD_CHARS)
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["admin", "create", "--email", "boss@example.com", "--username", "boss"],
        env={**os.environ, "FAULTMAVEN_ADMIN_PASSWORD": password},
    )
    assert created.exit_code == 0, created.output
    assert api.login("boss", password).user_id
    too_long = runner.invoke(
        cli,
        ["admin", "create", "--email", "boss2@example.com", "--username", "boss2"],
        env={**os.environ, "FAULTMAVEN_ADMIN_PASSWORD": password + "x"},
    )
    assert too_long.exit_code == 2
    assert "password" in too_long.output


# --- 3. Bodies over the limit without a Content-Length ------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"content": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/x-www-form-urlencoded", None],
)
def test_a_chunked_body_over_the_limit_is_a_413(
    api: Api, method: str, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.call(method, path, content=_chunks(MAX_BODY_BYTES + 1), headers=headers)
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_body_under_the_limit_still_works(api: Api, owner: User) -> None:
    case_id = api.case(owner)["case_id"]
    response = api.call(
        "POST", f"/cases/{case_id}/evidence/text", owner, content=_chunks(600_000), headers=JSON
    )
    assert response.status_code == 202, response.text


# --- 4. The contract: Allow on 405, null where nullable, no booleans as numbers -----------


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_a_405_names_every_method_of_the_path(api: Api, owner: User, path: str) -> None:
    documented = {m.upper() for m in DOCUMENT["paths"][path]}
    unused = next(m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in documented)
    concrete = re.sub(r"\{[^}]+\}", "x", path)
    response = api.client.request(unused, concrete, headers=owner.headers)
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert documented <= allowed
    # And nothing it names is itself refused as a method of this path.
    for method in allowed - documented:
        assert api.client.request(method, concrete, headers=owner.headers).status_code != 405


def test_boolean_and_string_numbers_are_refused(
    api: Api, container: Container, owner: User
) -> None:
    case_id = api.case(owner)["case_id"]
    before = fingerprint(container, case_id)
    for value in (False, True, "0.5"):
        response = api.call(
            "POST",
            f"/cases/{case_id}/hypotheses",
            owner,
            json={"statement": "x", "initial_likelihood": value},
        )
        body = assert_envelope(response, 422, "VALIDATION_FAILED")
        assert [d["field"] for d in body["details"]] == ["initial_likelihood"]
    assert fingerprint(container, case_id) == before
    accepted = api.call(
        "POST",
        f"/cases/{case_id}/hypotheses",
        owner,
        json={"statement": "x", "initial_likelihood": 1},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["initial_likelihood"] == 1.0
    response = api.call("POST", "/sessions", owner, json={"timeout_minutes": True})
    assert_envelope(response, 422, "VALIDATION_FAILED")


# --- 5. Characters that make text display as something else -------------------------------

SPOOFING = [
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200b",  # ZERO WIDTH SPACE
    "\u0007",  # BELL
    "\u001b",  # ESCAPE
    "\u0085",  # NEXT LINE (C1 control)
    "\u2028",  # LINE SEPARATOR
    "\n",
]


@pytest.mark.parametrize("char", SPOOFING, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/cases", {"title": "invoice{c}gpj.exe"}, "title"),
        ("PATCH", "/cases/{case}", {"title": "a{c}b"}, "title"),
        ("POST", "/cases/{case}/solutions", {"title": "a{c}b", "category": "fix"}, "title"),
        ("POST", "/cases/{case}/hypotheses", {"statement": "a{c}b"}, "statement"),
        ("POST", "/organizations", {"name": "Ac{c}me"}, "name"),
        ("POST", "/knowledge/documents", {"title": "a{c}b", "content": "x"}, "title"),
        (
            "POST",
            "/cases/{case}/evidence",
            {"filename": "report{c}fdp.exe", "size_bytes": 10},
            "filename",
        ),
        (
            "POST",
            "/cases/{case}/evidence/text",
            {"content": "log", "filename": "a{c}.txt"},
            "filename",
        ),
        (
            "POST",
            "/knowledge/documents/uploads",
            {"title": "t", "filename": "a{c}.md", "size_bytes": 10},
            "filename",
        ),
    ],
)
def test_hidden_characters_in_one_line_fields_are_a_422_naming_the_field(
    api: Api, owner: User, method: str, path: str, body: dict[str, Any], field: str, char: str
) -> None:
    case_id = api.case(owner)["case_id"]
    filled = {k: v.format(c=char) if isinstance(v, str) else v for k, v in body.items()}
    response = api.call(method, path.format(case=case_id), owner, json=filled)
    refused = assert_envelope(response, 422, "VALIDATION_FAILED")
    assert [d["field"] for d in refused["details"]] == [field], refused


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u001b", "\u0000"], ids=repr)
def test_multi_line_text_refuses_bidi_and_control_characters(
    api: Api, owner: User, char: str
) -> None:
    case_id = api.case(owner)["case_id"]
    for path, body, field in (
        (f"/cases/{case_id}/messages", {"content": f"line 1\n{char}line 2"}, "content"),
        ("/cases", {"title": "t", "description": f"a{char}b"}, "description"),
        ("/knowledge/documents", {"title": "t", "content": f"# a\n{char}"}, "content"),
    ):
        refused = assert_envelope(api.call("POST", path, owner, json=body), 422)
        assert [d["field"] for d in refused["details"]] in ([field], ["body"]), refused


def test_multi_line_text_keeps_newlines_tabs_and_joiners(api: Api, owner: User) -> None:
    case_id = api.case(owner)["case_id"]
    content = "step 1:\n\trestart\r\nthen 👩\u200d💻 checks שלום"
    response = api.call("POST", f"/cases/{case_id}/messages", owner, json={"content": content})
    assert response.status_code == 201, response.text
    assert response.json()["content"] == content


def test_pasted_evidence_is_kept_byte_for_byte(api: Api, owner: User) -> None:
    """Evidence content is the artifact, not a label: terminal colours in a log stay."""
    case_id = api.case(owner)["case_id"]
    response = api.call(
        "POST",
        f"/cases/{case_id}/evidence/text",
        owner,
        json={"content": "\u001b[31mERROR\u001b[0m disk full\n"},
    )
    assert response.status_code == 202, response.text


def test_the_openapi_document_served_is_the_completed_one(app: FastAPI) -> None:
    assert app.openapi() == DOCUMENT
