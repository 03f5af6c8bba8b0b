"""The base of every request body, and the text policies of its free-text fields."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Strict,
    StringConstraints,
    model_validator,
)

MAX_METADATA_BYTES = 4096


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


# Free-form client metadata: a JSON object small enough to store beside every row.
Metadata = Annotated[dict[str, Any], AfterValidator(_small_json)]

# Numbers and booleans as JSON types them: without `Strict`, pydantic would read `false`
# as 0.0, "0.5" as 0.5 and 1 as true, so a client bug would be stored as data.
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]
StrictBool = Annotated[bool, Strict()]

# Characters that reorder or hide text when it is displayed: the bidirectional embeddings,
# overrides and isolates (the "Trojan Source" characters, CVE-2021-42574). A title such
# as "invoice\u202egpj.exe" reads as "invoiceexe.jpg".
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# In multi-line text, the layout controls a pasted log or runbook legitimately holds.
MULTILINE_ALLOWED = frozenset("\t\n\r")
# Unicode categories no one-line label needs: controls (Cc), formatting characters (Cf:
# bidi marks, zero-width spaces and joiners, BOM, soft hyphen), line and paragraph
# separators (Zl, Zp), surrogates (Cs: PostgreSQL cannot store them) and unassigned (Cn).
_SINGLE_LINE_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})
# Multi-line text keeps other formatting characters (zero-width joiners in emoji, marks
# in right-to-left prose) but no controls besides tab and newlines, and no bidi controls.
_MULTI_LINE_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


def refuse_hidden_characters(value: str, *, multiline: bool) -> str:
    """Refuse text that would display differently from what it holds. Refused rather
    than stripped: silently changing a title would surprise its author, and a 422 that
    names the character tells the client exactly what to fix."""
    if value.isascii() and value.isprintable():
        return value  # the common case, decided in C
    for char in value:
        if char in BIDI_CONTROLS:
            raise ValueError(
                f"must not contain bidirectional control characters ({_describe(char)})"
            )
        if multiline:
            if char not in MULTILINE_ALLOWED and (
                unicodedata.category(char) in _MULTI_LINE_REFUSED_CATEGORIES
            ):
                raise ValueError(f"must not contain control characters ({_describe(char)})")
        elif unicodedata.category(char) in _SINGLE_LINE_REFUSED_CATEGORIES:
            raise ValueError(
                "must be one line without control or invisible formatting characters"
                f" ({_describe(char)})"
            )
    return value


def replace_hidden_characters(value: str, replacement: str) -> str:
    """`value` with every character a one-line label refuses replaced: for names that
    must be kept, not refused (a file name from an upload or an object key)."""
    if value.isascii() and value.isprintable():
        return value
    return "".join(
        replacement
        if char in BIDI_CONTROLS or unicodedata.category(char) in _SINGLE_LINE_REFUSED_CATEGORIES
        else char
        for char in value
    )


def _single_line(value: str) -> str:
    return refuse_hidden_characters(value, multiline=False)


def _multi_line(value: str) -> str:
    return refuse_hidden_characters(value, multiline=True)


# A label shown on one line: titles, names, file names, tags, statements.
Line = Annotated[str, AfterValidator(_single_line)]
# Prose that may span lines: descriptions, messages, rationales, document bodies.
Text = Annotated[str, AfterValidator(_multi_line)]
# Prose kept exactly as written, surrounding whitespace included (document bodies: a
# trailing newline is part of the file). The constraint must sit next to `str`, before
# any validator, or the models' whitespace trimming still applies.
VerbatimText = Annotated[
    str, StringConstraints(strip_whitespace=False), AfterValidator(_multi_line)
]


def has_nul(value: Any) -> bool:
    """Whether any string in a decoded JSON value (keys included) holds a NUL. Iterative:
    the HTTP layer bounds the nesting, but models are also built from other input."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class RequestModel(BaseModel):
    """Unknown fields are errors (a typo must not be silently ignored), surrounding
    whitespace is trimmed, and NUL characters are refused: PostgreSQL text cannot hold them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class PatchModel(RequestModel):
    """A partial update: at least one field, and `null` only where clearing a value means
    something (listed in `clearable`). The JSON schema says so too: a field that may be
    omitted but not cleared is not nullable there."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to update")
        for name in sorted(self.model_fields_set - self.clearable):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["minProperties"] = 1
        for name, prop in target.get("properties", {}).items():
            if name in cls.clearable:
                continue
            drop_null_alternative(prop)
        return schema


def drop_null_alternative(schema: dict[str, Any]) -> None:
    """Turn `anyOf: [X, null]` (pydantic's `X | None`) into X, in place, with its `null`
    default: for values that may be left out but not sent as null."""
    if schema.get("default", ...) is None:
        del schema["default"]
    variants = schema.get("anyOf")
    if not isinstance(variants, list) or {"type": "null"} not in variants:
        return
    kept = [v for v in variants if v != {"type": "null"}]
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


__all__ = [
    "Line",
    "Metadata",
    "PatchModel",
    "RequestModel",
    "StrictBool",
    "StrictFloat",
    "StrictInt",
    "Text",
]
