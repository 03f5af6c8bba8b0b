"""Nothing leaves the process for a model before the redactor has run over it.

Every text a request carries is redacted: the system prompt (it may quote a case title),
user and assistant text, tool_use arguments (keys and string leaves of the JSON), tool
results, stop sequences, and tool definitions (descriptions and the string leaves of
their schemas: an MCP server's tools are third-party text). Tool names and ids are left
as they are: the call/answer pairing depends on them and their alphabet
(`[a-zA-Z0-9_-]{1,64}`) is checked at construction. The redactor is the one preprocessing
uses for evidence, so a secret masked in a stored extraction is masked the same way in a
prompt; redaction is idempotent, so text redacted upstream comes through unchanged.

What a model answers is untrusted text too: `redact_response` cleans it before anyone
stores or shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from faultmaven.core.llm import (
    ContentBlock,
    LLMRequest,
    LLMResponse,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from faultmaven.preprocessing.redact import redact

# The stable parts of a conversation (system prompt, tool definitions, earlier turns) come
# back on every call: their redaction is remembered. Bounded in entries and in size.
_CACHED_TEXT_CHARS = 16_384


@lru_cache(maxsize=512)
def _redacted(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    result = redact(text)
    return result.text, tuple(result.counts.items())


def _cleaned(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """The redacted text and its counts; remembered for texts short enough to repeat."""
    if len(text) <= _CACHED_TEXT_CHARS:
        return _redacted(text)
    result = redact(text)
    return result.text, tuple(result.counts.items())


class _Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        if not text:
            return text
        cleaned, counts = _cleaned(text)
        for kind, count in counts:
            self.counts[kind] = self.counts.get(kind, 0) + count
        return cleaned


def _leaves(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(key)): _leaves(item, clean) for key, item in value.items()}
    if isinstance(value, list):
        return [_leaves(item, clean) for item in value]
    return value


def _block(block: ContentBlock, clean: Callable[[str], str]) -> ContentBlock:
    if isinstance(block, TextBlock):
        return TextBlock(text=clean(block.text))
    if isinstance(block, ToolUseBlock):
        return ToolUseBlock(id=block.id, name=block.name, input=_leaves(block.input, clean))
    if isinstance(block, ToolResultBlock):
        return ToolResultBlock(
            tool_use_id=block.tool_use_id, content=clean(block.content), is_error=block.is_error
        )
    raise TypeError(f"unknown content block {type(block).__name__}")


def redact_request(request: LLMRequest) -> tuple[LLMRequest, dict[str, int]]:
    """The request with every text redacted, and what was taken out (kind → count)."""
    clean = _Counter()
    redacted = request.model_copy(
        update={
            "system": clean(request.system),
            "tools": [
                ToolSpec(
                    name=tool.name,
                    description=clean(tool.description),
                    input_schema=_leaves(tool.input_schema, clean),
                )
                for tool in request.tools
            ],
            "messages": [
                Message(role=message.role, content=[_block(b, clean) for b in message.content])
                for message in request.messages
            ],
            "stop_sequences": [clean(stop) for stop in request.stop_sequences],
        }
    )
    return redacted, clean.counts


def redact_response(response: LLMResponse) -> tuple[LLMResponse, dict[str, int]]:
    """The answer with its text, tool inputs and metadata redacted."""
    clean = _Counter()
    redacted = response.model_copy(
        update={
            "content": [_block(block, clean) for block in response.content],
            "metadata": _leaves(response.metadata, clean),
        }
    )
    return redacted, clean.counts


def redact_text(text: str) -> str:
    return _cleaned(text)[0] if text else text
