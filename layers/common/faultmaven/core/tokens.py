"""Local token estimates, for providers that cannot count (Bedrock, most OpenAI-compatible
servers, the offline analyst) and for budget checks made before a call.

Claude's tokenizer averages ≈ 3.5–4 characters per token on English and more tokens on
code, logs and JSON; estimating at 3 characters per token errs on the side of refusing a
call near a budget rather than overspending it.
"""

from __future__ import annotations

import json
import math

from faultmaven.core.llm import LLMRequest, TextBlock, ToolResultBlock, ToolUseBlock

CHARS_PER_TOKEN = 3.0
_PER_MESSAGE = 4  # role and framing tokens
_PER_REQUEST = 8


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_input_tokens(request: LLMRequest) -> int:
    total = _PER_REQUEST + estimate_text_tokens(request.system)
    for message in request.messages:
        total += _PER_MESSAGE
        for block in message.content:
            if isinstance(block, TextBlock):
                total += estimate_text_tokens(block.text)
            elif isinstance(block, ToolUseBlock):
                total += estimate_text_tokens(block.name + json.dumps(block.input))
            elif isinstance(block, ToolResultBlock):
                total += estimate_text_tokens(block.content)
    for tool in request.tools:
        total += estimate_text_tokens(
            tool.name + tool.description + json.dumps(tool.input_schema, separators=(",", ":"))
        )
    return total
