"""The Messages API mapping shared by the Anthropic and Bedrock adapters.

Both speak the same request and response shapes through the `anthropic` SDK (Bedrock
through `AnthropicBedrock`, which re-routes the very same call to `/model/{id}/invoke`),
so the translation and the error mapping live here once; the two adapters differ only
in how they build their client and whether the provider can count tokens.

The SDK is imported inside functions only: importing this module costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from faultmaven.core.llm import (
    ContentBlock,
    LLMRequest,
    LLMResponse,
    Message,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
    error_for_status,
    retry_after_from_headers,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message as SdkMessage

logger = logging.getLogger(__name__)

# Prompt caching of the stable prefix: the system prompt and the tool definitions are the
# same on every turn of an investigation, so one breakpoint on each lets the provider
# bill them at the cache-read price after the first call.
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}


def open_telemetry_option() -> anthropic.OpenTelemetryOptions:
    """The SDK's spans: kept, but pinned to metadata so no environment variable can make
    them carry message content."""
    return {"traces": {"content_mode": "metadata_only"}}


# An `error` event inside a stream arrives on an HTTP 200 response: its error type says
# which status the same failure has when it is the response itself.
_STATUS_OF_ERROR_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "timeout_error": 408,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
    # Bedrock's exception frames inside an invoke-with-response-stream.
    "throttlingexception": 429,
    "serviceunavailableexception": 503,
    "internalserverexception": 500,
    "modelstreamerrorexception": 500,
    "modeltimeoutexception": 408,
    "validationexception": 400,
}

_MAX_ERROR_DETAIL = 200


def _block_param(block: ContentBlock) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    param: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
    }
    if block.is_error:
        param["is_error"] = True
    return param


def _message_param(message: Message) -> dict[str, Any]:
    return {"role": message.role, "content": [_block_param(b) for b in message.content]}


def request_kwargs(request: LLMRequest, model: str) -> dict[str, Any]:
    """`messages.create` keyword arguments for `request`.

    Raises ProviderRequestError (before anything is sent) for a request no provider
    could accept: a `tool` tool_choice without a tool name."""
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": [_message_param(m) for m in request.messages],
    }
    if request.system:
        kwargs["system"] = [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}]
    if request.tools:
        tools: list[dict[str, Any]] = []
        for spec in request.tools:
            tool: dict[str, Any] = {"name": spec.name, "input_schema": spec.input_schema}
            if spec.description:
                tool["description"] = spec.description
            tools.append(tool)
        # One breakpoint after the last tool caches every definition (and the system
        # prompt before them: the cached prefix is tools, then system).
        tools[-1]["cache_control"] = EPHEMERAL
        kwargs["tools"] = tools
    choice = request.tool_choice
    if choice is not None:
        if choice.type == "tool":
            if not choice.name:
                raise ProviderRequestError("tool_choice 'tool' needs the tool's name")
            kwargs["tool_choice"] = {"type": "tool", "name": choice.name}
        else:
            kwargs["tool_choice"] = {"type": choice.type}
    # No temperature: API version 2026-10-21 (what SDK 2.x sends) refuses every sampling
    # parameter with a 400, even at its default, and the SDK no longer has one.
    # The adapter notes it in the response's metadata instead (`_with_ignored`).
    if request.stop_sequences:
        kwargs["stop_sequences"] = list(request.stop_sequences)
    return kwargs


def count_tokens_kwargs(request: LLMRequest, model: str) -> dict[str, Any]:
    """`messages.count_tokens` takes the prompt only: no sampling parameters."""
    kwargs = request_kwargs(request, model)
    for key in ("max_tokens", "stop_sequences"):
        kwargs.pop(key, None)
    return kwargs


def _with_ignored(response: LLMResponse, request: LLMRequest) -> LLMResponse:
    """Say in the response (and so in the history) that the request's temperature was
    not sent, rather than pretend it was honoured."""
    if request.temperature is None:
        return response
    metadata = {**response.metadata, "unsupported_parameters": ["temperature"]}
    return response.model_copy(update={"metadata": metadata})


def response_from_message(message: SdkMessage, *, provider: str, latency_ms: float) -> LLMResponse:
    """Our response for the SDK's `Message`. Block types we have no shape for (thinking,
    server tools) are dropped and named in `metadata["skipped_blocks"]`."""
    content: list[ContentBlock] = []
    skipped: list[str] = []
    for block in message.content:
        if block.type == "text":
            content.append(TextBlock(text=block.text))
        elif block.type == "tool_use":
            tool_input = block.input if isinstance(block.input, dict) else {"_raw": block.input}
            content.append(ToolUseBlock(id=block.id, name=block.name, input=tool_input))
        else:
            skipped.append(block.type)
    usage = message.usage
    metadata: dict[str, Any] = {"message_id": message.id}
    request_id = getattr(message, "_request_id", None)
    if isinstance(request_id, str):
        metadata["request_id"] = request_id
    if skipped:
        metadata["skipped_blocks"] = skipped
    return LLMResponse(
        content=content,
        # Never None outside a stream's message_start; "end_turn" keeps the type total.
        stop_reason=message.stop_reason or "end_turn",
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        ),
        model=message.model,
        latency_ms=latency_ms,
        provider=provider,
        metadata=metadata,
    )


def _detail(exc: anthropic.APIStatusError) -> str:
    text = exc.api_message or ""
    return text[:_MAX_ERROR_DETAIL]


def provider_error(exc: Exception, *, provider: str) -> ProviderError:
    """The `ProviderError` for anything the SDK (or the transport under it) raised.

    The message names the provider, the status and the provider's error type and
    message (which describe the failure, never the prompt); it never holds content."""
    import anthropic
    import botocore.exceptions
    import httpx2

    if isinstance(
        exc,
        botocore.exceptions.NoCredentialsError
        | botocore.exceptions.PartialCredentialsError
        | botocore.exceptions.CredentialRetrievalError,
    ):
        # Bedrock signs with the default AWS chain: no credentials is an auth failure.
        return ProviderAuthError(f"{provider}: no usable AWS credentials ({type(exc).__name__})")
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return ProviderTimeoutError(f"{provider}: the call timed out")
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return ProviderConnectionError(f"{provider}: connection failed ({type(exc).__name__})")
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status < 400:
            # An `error` event inside a 200 stream.
            status = _STATUS_OF_ERROR_TYPE.get((exc.type or "").lower(), 500)
        message = f"{provider} answered {status} {exc.type or 'error'}: {_detail(exc)}"
        return error_for_status(
            status, message, retry_after=retry_after_from_headers(exc.response.headers)
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ProviderServerError(
            f"{provider}: malformed response", status=exc.response.status_code
        )
    if isinstance(exc, anthropic.AnthropicError):
        return ProviderRequestError(f"{provider}: {type(exc).__name__}: {str(exc)[:200]}")
    # Anything else is a malformed answer (our mapping refused it) or a transport fault
    # the SDK did not wrap: a retry may succeed.
    return ProviderServerError(f"{provider}: {type(exc).__name__} while reading the answer")


def quiet_sdk_logging() -> None:
    """The SDK logs every request's options, body included, at DEBUG: a Lambda run at
    DEBUG would write prompts to CloudWatch. Its loggers stop at INFO (status lines)."""
    sdk_logger = logging.getLogger("anthropic")
    if sdk_logger.getEffectiveLevel() < logging.INFO:
        sdk_logger.setLevel(logging.INFO)


class MessagesApiModel:
    """A `LanguageModel` over an `anthropic` SDK client (first-party or Bedrock).

    Exactly one HTTP attempt per call: the client is built with `max_retries=0`, so the
    llm domain's retry policy (backoff, deadline, fallback) is the only one."""

    provider_name = "messages_api"

    def __init__(self, *, model: str) -> None:
        self._model = model
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def provider(self) -> str:
        return self.provider_name

    @property
    def model(self) -> str:
        return self._model

    def _build_client(self) -> Any:
        raise NotImplementedError

    def _error(self, exc: Exception) -> ProviderError:
        """The ProviderError for `exc`; adapters add the failures only they can meet. A
        refused credential drops the client, so the next call reads the key again: an
        operator who stores or rotates the key is heard without a redeploy."""
        error = provider_error(exc, provider=self.provider)
        if isinstance(error, ProviderAuthError):
            self._client = None
        return error

    def _get_client(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    quiet_sdk_logging()
                    try:
                        self._client = self._build_client()
                    except ProviderError:
                        raise
                    except Exception as exc:  # the SDK refused its own configuration
                        raise self._error(exc) from exc
                client = self._client
        return client

    def warm(self) -> None:
        """Import the SDK and build the client, so a SnapStart snapshot holds both. A
        failure here (no key yet) is logged and left for the first call to report."""
        try:
            self._get_client()
        except ProviderError as exc:
            logger.warning(
                "llm client not built at warm-up",
                extra={"provider": self.provider, "error_kind": exc.kind},
            )

    def complete(self, request: LLMRequest, *, timeout: float) -> LLMResponse:
        kwargs = request_kwargs(request, self._model)
        client = self._get_client()
        started = time.perf_counter()
        try:
            message = client.messages.create(**kwargs, timeout=timeout)
            latency_ms = (time.perf_counter() - started) * 1000.0
            response = response_from_message(message, provider=self.provider, latency_ms=latency_ms)
            return _with_ignored(response, request)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def stream(self, request: LLMRequest, *, timeout: float) -> Iterator[StreamEvent]:
        """Text deltas as they arrive, then the whole response. `timeout` bounds the
        whole stream, not only each read: a provider trickling events past it is cut
        off with a ProviderTimeoutError."""
        kwargs = request_kwargs(request, self._model)
        client = self._get_client()
        started = time.perf_counter()
        deadline = started + timeout
        try:
            with client.messages.stream(**kwargs, timeout=timeout) as events:
                stopped = False
                for event in events:
                    if event.type == "text" and event.text:
                        yield TextDelta(text=event.text)
                    elif event.type == "message_stop":
                        stopped = True
                    if time.perf_counter() > deadline:
                        raise ProviderTimeoutError(
                            f"{self.provider}: the stream outlived its {timeout:g} s"
                        )
                if not stopped:
                    # The connection closed mid-answer: what arrived is not the answer.
                    raise ProviderConnectionError(
                        f"{self.provider}: the stream ended before message_stop"
                    )
                message = events.get_final_message()
            latency_ms = (time.perf_counter() - started) * 1000.0
            response = response_from_message(message, provider=self.provider, latency_ms=latency_ms)
            yield _with_ignored(response, request)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def count_tokens(self, request: LLMRequest, *, timeout: float) -> int | None:
        return None
