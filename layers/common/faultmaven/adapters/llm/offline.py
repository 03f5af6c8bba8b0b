"""The offline analyst: a deterministic provider that needs no network and no account.

It answers only from what it is given. A forced tool call is filled from the request by
the tool's JSON schema: a field named `x` takes the text of the prompt's `<x>…</x>`
section when there is one (arrays take one item per line, bullets stripped), and falls
back to the schema's default or to sentences of the last user message, within the
schema's bounds. Free text is an extract of the last user message. Every answer says in
its metadata that it is offline, so nothing downstream mistakes it for a model's.

So `make dev` and the tests run the whole flow (prompt building, redaction, budgets,
history, structured-output validation) with no model; the prompts that want a useful
offline answer put their deterministic draft in tagged sections.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from faultmaven.core.llm import (
    LLMRequest,
    LLMResponse,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
)
from faultmaven.core.tokens import estimate_input_tokens, estimate_text_tokens

MODEL = "offline-analyst-1"
_SECTION = re.compile(r"<([a-z][a-z0-9_]{0,63})>\n?(.*?)\n?</\1>", re.DOTALL)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_MAX_DEPTH = 6
_TEXT_SENTENCES = 4
_TEXT_CHARS = 1200


class OfflineLanguageModel:
    provider = "offline"

    def __init__(self, model: str = MODEL) -> None:
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    def warm(self) -> None:
        return None

    def count_tokens(self, request: LLMRequest, *, timeout: float) -> int | None:
        return estimate_input_tokens(request)

    def complete(self, request: LLMRequest, *, timeout: float) -> LLMResponse:
        started = time.perf_counter()
        texts = _user_texts(request)
        sections = _sections(texts)
        tool = _forced_tool(request)
        content: list[TextBlock | ToolUseBlock]
        if tool is not None:
            value = _fill(tool.input_schema, tool.input_schema, sections, texts, "", 0)
            arguments = value if isinstance(value, dict) else {"value": value}
            call_number = sum(
                1
                for message in request.messages
                for block in message.content
                if isinstance(block, ToolUseBlock)
            )
            content = [
                ToolUseBlock(
                    id=f"toolu_offline_{call_number + 1:04d}", name=tool.name, input=arguments
                )
            ]
            stop_reason = "tool_use"
            output = estimate_text_tokens(str(arguments))
        else:
            text = _extract(texts[-1] if texts else "")
            content = [TextBlock(text=text)]
            stop_reason = "end_turn"
            output = estimate_text_tokens(text)
        return LLMResponse(
            content=content,
            stop_reason=stop_reason,
            usage=Usage(input_tokens=estimate_input_tokens(request), output_tokens=output),
            model=self._model,
            latency_ms=(time.perf_counter() - started) * 1000,
            provider=self.provider,
            usage_estimated=True,
            metadata={
                "offline": True,
                "note": "deterministic offline analyst; no model was called",
            },
        )

    def stream(self, request: LLMRequest, *, timeout: float) -> Iterator[StreamEvent]:
        response = self.complete(request, timeout=timeout)
        for word in re.findall(r"\S+\s*", response.text):
            yield TextDelta(text=word)
        yield response


def _user_texts(request: LLMRequest) -> list[str]:
    texts: list[str] = []
    for message in request.messages:
        if message.role != "user":
            continue
        for block in message.content:
            if isinstance(block, TextBlock):
                texts.append(block.text)
            elif isinstance(block, ToolResultBlock) and not block.is_error:
                texts.append(block.content)
    return texts


def _sections(texts: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for text in texts:  # later messages override earlier ones
        for match in _SECTION.finditer(text):
            found[match.group(1)] = match.group(2).strip()
    return found


def _forced_tool(request: LLMRequest) -> ToolSpec | None:
    choice = request.tool_choice
    if choice is None or not request.tools or choice.type in ("auto", "none"):
        return None
    if choice.type == "tool":
        return next((t for t in request.tools if t.name == choice.name), request.tools[0])
    return request.tools[0]


def _sentences(text: str) -> list[str]:
    plain = _SECTION.sub(lambda m: m.group(2), text)
    lines = [_BULLET.sub("", line).strip() for line in plain.splitlines()]
    sentences: list[str] = []
    for line in lines:
        if line:
            sentences.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return sentences


def _extract(text: str) -> str:
    picked = _sentences(text)[:_TEXT_SENTENCES]
    body = " ".join(picked)[:_TEXT_CHARS] if picked else "No content was given to analyse."
    return f"[offline analyst] {body}"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            concrete = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
            if concrete:
                return _resolve(concrete[0], root)
    return schema


def _cap(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:")


def _fill(
    schema: dict[str, Any],
    root: dict[str, Any],
    sections: dict[str, str],
    texts: list[str],
    name: str,
    depth: int,
) -> Any:
    schema = _resolve(schema, root)
    kind = schema.get("type")
    section = sections.get(name) if name else None
    if schema.get("enum"):
        options = list(schema["enum"])
        if section is not None and section in options:
            return section
        return schema.get("default", options[0])
    if kind == "object" or "properties" in schema:
        if depth >= _MAX_DEPTH:
            return {}
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        value: dict[str, Any] = {}
        for key, sub in properties.items():
            if key in sections or key in required or "default" not in sub:
                value[key] = _fill(sub, root, sections, texts, key, depth + 1)
            else:
                value[key] = sub["default"]
        return value
    if kind == "array":
        items = _resolve(schema.get("items", {}), root)
        lines = (
            [_BULLET.sub("", line).strip() for line in section.splitlines()]
            if section is not None
            else []
        )
        lines = [line for line in lines if line]
        minimum = int(schema.get("minItems", 0))
        maximum = schema.get("maxItems")
        if len(lines) < minimum:
            for sentence in _sentences(texts[-1] if texts else ""):
                if len(lines) >= minimum:
                    break
                if sentence not in lines:
                    lines.append(sentence)
        if maximum is not None:
            lines = lines[: int(maximum)]
        if items.get("type", "string") == "string":
            limit = items.get("maxLength")
            return [_cap(line, limit) for line in lines]
        return [_fill(items, root, {**sections, "": line}, texts, "", depth + 1) for line in lines][
            : len(lines)
        ]
    if kind in ("integer", "number"):
        number: float
        try:
            number = float(section) if section is not None else float(schema.get("default", 0))
        except ValueError:
            number = float(schema.get("minimum", 0))
        if "minimum" in schema:
            number = max(number, float(schema["minimum"]))
        if "maximum" in schema:
            number = min(number, float(schema["maximum"]))
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        if section is not None:
            return section.strip().lower() in ("true", "yes", "1")
        return bool(schema.get("default", False))
    # A string (or an untyped field).
    if section is not None:
        text = section
    elif "default" in schema and isinstance(schema["default"], str):
        text = schema["default"]
    else:
        text = " ".join(_sentences(texts[-1] if texts else "")[:_TEXT_SENTENCES])
    minimum_length = int(schema.get("minLength", 0))
    if len(text) < minimum_length:
        text = (text + " " + "(offline)").strip().ljust(minimum_length, ".")
    return _cap(text, schema.get("maxLength"))
