"""The language-model contract every provider adapter speaks.

The shapes follow the Messages API (system prompt, messages made of text, tool_use and
tool_result blocks, tools with JSON schemas, tool_choice) because it is the richest of
the wire formats we map; the OpenAI-compatible adapter translates both ways. Domain
code builds `LLMRequest`s and reads `LLMResponse`s and never sees a vendor SDK.

Provider failures are `ProviderError`s that say whether a retry may help and how long
the provider asked us to wait, so one retry policy (llm.service) serves every adapter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextBlock(_Frozen):
    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(_Frozen):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(_Frozen):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str
    is_error: bool = False


ContentBlock = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class Message(_Frozen):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", content=[TextBlock(text=text)])

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls(role="assistant", content=[TextBlock(text=text)])


class ToolSpec(_Frozen):
    """A tool the model may call; `input_schema` is a JSON Schema object."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    input_schema: dict[str, Any]


class ToolChoice(_Frozen):
    """`auto`: the model decides; `any`: it must call some tool; `tool`: it must call
    `name`; `none`: it must not call tools."""

    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None


class LLMRequest(_Frozen):
    system: str = ""
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    max_tokens: int = Field(default=1024, ge=1, le=64_000)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    stop_sequences: list[str] = Field(default_factory=list)


StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "error"
]


class Usage(_Frozen):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class LLMResponse(_Frozen):
    content: list[ContentBlock]
    stop_reason: StopReason | str
    usage: Usage
    model: str
    latency_ms: float = 0.0
    provider: str = ""
    # True when usage was estimated locally because the provider returned none.
    usage_estimated: bool = False
    # Adapter-specific facts worth keeping (the offline provider labels itself here).
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        return [block for block in self.content if isinstance(block, ToolUseBlock)]


class TextDelta(_Frozen):
    """A piece of streamed text; a stream ends with the complete `LLMResponse`."""

    type: Literal["text_delta"] = "text_delta"
    text: str


StreamEvent = TextDelta | LLMResponse


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether the same call may succeed later
    (throttling, overload, 5xx, timeouts, broken connections); `retry_after` is the
    provider's own hint in seconds, when it sent one."""

    retryable: bool = False
    kind: str = "error"

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ProviderRateLimitedError(ProviderError):
    retryable = True
    kind = "rate_limited"


class ProviderOverloadedError(ProviderError):
    retryable = True
    kind = "overloaded"


class ProviderServerError(ProviderError):
    retryable = True
    kind = "server_error"


class ProviderTimeoutError(ProviderError):
    retryable = True
    kind = "timeout"


class ProviderConnectionError(ProviderError):
    retryable = True
    kind = "connection_error"


class ProviderAuthError(ProviderError):
    """A missing or refused credential: retrying the same provider cannot help, a
    fallback provider may."""

    kind = "authentication_error"


class ProviderRequestError(ProviderError):
    """The provider refused the request itself (400, 404, 413, 422)."""

    kind = "invalid_request"


# Longer hints are capped: no caller waits an hour for a model; a wait longer than the
# gateway's policy allows moves on to the fallback instead (llm.service).
MAX_RETRY_AFTER_SECONDS = 3600.0

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None
) -> ProviderError:
    """The `ProviderError` an HTTP status means, for adapters that see raw statuses."""
    if status == 429:
        return ProviderRateLimitedError(message, status=status, retry_after=retry_after)
    if status == 529:
        return ProviderOverloadedError(message, status=status, retry_after=retry_after)
    if status in (408,):
        return ProviderTimeoutError(message, status=status, retry_after=retry_after)
    if status >= 500 or status == 409:
        return ProviderServerError(message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return ProviderAuthError(message, status=status)
    return ProviderRequestError(message, status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `retry-after` (or `retry-after-ms`) header value; None when absent
    or not a number (HTTP dates are not worth honouring for sub-minute waits)."""
    seconds = _finite(value)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER_SECONDS)


def _finite(value: str | None) -> float | None:
    """A non-negative finite number, else None: `inf`, `nan` and negative values (a
    proxy's bug) are no hint at all."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """The provider's wait hint from response headers: `retry-after-ms` is more precise
    than `retry-after` where a provider sends both. `headers` should be case-insensitive
    (httpx's are); both adapters pass the response's own."""
    milliseconds = _finite(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return min(milliseconds / 1000.0, MAX_RETRY_AFTER_SECONDS)
    return parse_retry_after(headers.get("retry-after"))
