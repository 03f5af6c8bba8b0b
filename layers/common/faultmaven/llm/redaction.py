"""Nothing leaves the process for a model before the redactor has run over it.

Every text a request carries is redacted: the system prompt (it may quote a case title),
user and assistant text, tool_use arguments (string leaves of the JSON), tool results,
and stop sequences. Tool definitions are ours and static, so they are left alone. The
redactor is the one preprocessing uses for evidence, so a secret masked in a stored
extraction is masked the same way in a prompt; redaction is idempotent, so text that was
redacted upstream comes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faultmaven.core.llm import (
    ContentBlock,
    LLMRequest,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from faultmaven.preprocessing.redact import redact


class _Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        if not text:
            return text
        result = redact(text)
        for kind, count in result.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        return result.text


def _leaves(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: _leaves(item, clean) for key, item in value.items()}
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
            "messages": [
                Message(role=message.role, content=[_block(b, clean) for b in message.content])
                for message in request.messages
            ],
            "stop_sequences": [clean(stop) for stop in request.stop_sequences],
        }
    )
    return redacted, clean.counts


def redact_text(text: str) -> str:
    return redact(text).text
