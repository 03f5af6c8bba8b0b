"""The request-model policies hold for EVERY request model and operation, not only the
ones an issue named: a field added later gets the same treatment or fails here."""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import faultmaven
from faultmaven.app import openapi_document
from faultmaven.core.middleware import json_depth_exceeds
from faultmaven.core.models import PatchModel, RequestModel, refuse_hidden_characters
from faultmaven.evidence.models import safe_filename

for module in pkgutil.walk_packages(faultmaven.__path__, "faultmaven."):
    if module.name.endswith(".models"):
        importlib.import_module(module.name)


def _subclasses(cls: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for sub in cls.__subclasses__():
        found.extend([sub, *_subclasses(sub)])
    return found


MODELS = sorted(
    {m for m in _subclasses(RequestModel) if m is not PatchModel}, key=lambda m: m.__name__
)
DOCUMENT = openapi_document()


def _field_errors(model: type[BaseModel], payload: dict[str, Any], name: str) -> list[Any]:
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return [e for e in exc.errors() if e["loc"][:1] == (name,)]
    return []


def _property_schemas(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    schema = model.model_json_schema()
    props: dict[str, dict[str, Any]] = schema.get("properties", {})
    return props


def _types(prop: dict[str, Any]) -> set[str]:
    variants = prop.get("anyOf", [prop])
    return {v.get("type") for v in variants if "type" in v}


def test_the_walk_finds_the_request_models() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"CaseCreate", "HypothesisCreate", "RegisterRequest", "UploadRequest"} <= names


# --- strict numbers and booleans ---------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_numbers_and_booleans_are_taken_only_as_json_types_them(
    model: type[BaseModel],
) -> None:
    for name, prop in _property_schemas(model).items():
        kinds = _types(prop)
        if kinds & {"integer", "number"}:
            for wrong in (True, False, "1"):
                assert _field_errors(model, {name: wrong}, name), (model.__name__, name, wrong)
        if "boolean" in kinds:
            for wrong in (1, 0, "true"):
                assert _field_errors(model, {name: wrong}, name), (model.__name__, name, wrong)


# --- null where the schema says nullable, and only there ---------------------------------

PATCH_MODELS = [m for m in MODELS if issubclass(m, PatchModel)]


@pytest.mark.parametrize("model", PATCH_MODELS, ids=lambda m: m.__name__)
def test_a_patch_field_takes_null_exactly_when_its_schema_says_so(
    model: type[PatchModel],
) -> None:
    for name, prop in _property_schemas(model).items():
        nullable = "null" in _types(prop)
        try:
            model.model_validate({name: None})
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == nullable, (model.__name__, name)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_nullable_field_takes_null(model: type[BaseModel]) -> None:
    for name, prop in _property_schemas(model).items():
        if "null" in _types(prop):
            assert not _field_errors(model, {name: None}, name), (model.__name__, name)


def test_no_query_parameter_is_nullable() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                assert "null" not in _types(parameter["schema"]), (method, path, parameter)


# --- every status the shared machinery gives is documented --------------------------------


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in DOCUMENT["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
    ]


@pytest.mark.parametrize(("method", "path", "operation"), _operations())
def test_every_operation_documents_the_statuses_it_can_give(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    expected = {"422", "429", "503"}
    if "requestBody" in operation:
        expected |= {"400", "413"}
    if operation.get("security"):
        expected |= {"401", "403"}
    responses = operation["responses"]
    assert expected <= set(responses), (method, path, expected - set(responses))
    for status in expected:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}
    for status in ("429", "503"):
        assert "Retry-After" in responses[status]["headers"]


# --- hidden characters -------------------------------------------------------------------

# Strings taken as they come, on purpose: secrets, identifiers looked up (never shown;
# an odd one is simply not found), and pasted evidence (the artifact itself).
VERBATIM = {"password", "refresh_token", "email", "username", "content"}


def _is_verbatim(model: type[BaseModel], name: str) -> bool:
    if name.endswith(("_id", "_ids")):
        return True
    if model.__name__ == "TextEvidenceRequest" and name == "content":
        return True
    return (model.__name__ in {"LoginRequest", "CompatLogin"} and name in VERBATIM) or name in {
        "password",
        "refresh_token",
    }


def _string_kind(prop: dict[str, Any]) -> str | None:
    for variant in prop.get("anyOf", [prop]):
        if variant.get("type") == "string":
            return "string"
        if variant.get("type") == "array" and variant.get("items", {}).get("type") == "string":
            return "array"
    return None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u001b"], ids=repr)
def test_every_free_text_field_refuses_bidi_and_control_characters(
    model: type[BaseModel], char: str
) -> None:
    for name, prop in _property_schemas(model).items():
        kind = _string_kind(prop)
        if kind is None or _is_verbatim(model, name):
            continue
        text = f"a{char}b"
        payload = {name: [text] if kind == "array" else text}
        try:
            model.model_validate(payload)
        except ValidationError as exc:
            located = [e for e in exc.errors() if e["loc"][:1] == (name,) or e["loc"] == ()]
            assert located, (model.__name__, name)
        else:
            pytest.fail(f"{model.__name__}.{name} kept {char!r}")


@pytest.mark.parametrize(
    "value",
    ["plain", "naïve café", "日本語のタイトル", "שלום", "👩\u200d💻", "tab\tsep", "a\nb\r\nc"],
)
def test_multi_line_text_keeps_what_prose_needs(value: str) -> None:
    assert refuse_hidden_characters(value, multiline=True) == value


@pytest.mark.parametrize("value", ["\u202eexe.jpg", "a\u200bb", "a\nb", "a\u00adb", "\ufeffa"])
def test_one_line_labels_refuse_invisible_characters(value: str) -> None:
    with pytest.raises(ValueError, match=r"U\+"):
        refuse_hidden_characters(value, multiline=False)


def test_upload_file_names_lose_hidden_characters() -> None:
    assert safe_filename("invoice\u202egpj.exe") == "invoice_gpj.exe"
    assert safe_filename("a\u200bb\u2028c\u0085d.log") == "a_b_c_d.log"
    assert safe_filename("../../etc/passwd") == "passwd"


# --- JSON nesting ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab:,'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(value=json_values, limit=st.integers(min_value=0, max_value=6))
def test_the_depth_scan_agrees_with_the_parser(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    assert json_depth_exceeds(body, limit) == (_depth(value) > limit)


def test_the_depth_scan_handles_what_the_parser_cannot() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(deep)
    assert json_depth_exceeds(deep, 32)
    assert not json_depth_exceeds(b'{"a": "' + b"[" * 5000 + b'"}', 32)


def test_openers_never_closed_count_as_nesting() -> None:
    assert json_depth_exceeds(b"[" * 100_000, 32)
    assert not json_depth_exceeds(b'[1, 2, {"a": [3', 32)
