"""Any OpenAI-compatible Chat Completions server (vLLM, Ollama, LiteLLM, a gateway).

Plain httpx rather than a vendor SDK: the wire format is small and stable, and teams
that self-host run servers that implement only part of it. Our request and response
shapes are the Messages API's (core.llm); this module translates both ways:

- system prompt → a leading `system` message; tool_use blocks → the assistant's
  `tool_calls` (arguments as a JSON string); each tool_result → a `tool` message with its
  `tool_call_id`, placed before the user text it came with (the protocol wants tool
  messages right after the assistant turn that called them). The format has no error
  flag on a tool result, so an error result is sent with an `Error: ` prefix.
- `tool_choice` any → `required`, one tool → `{type: function, function: {name}}`.
- tool-call arguments that are not a JSON object (models do emit broken JSON) are kept
  as `{"_raw": "<the string>"}` and the call's id is listed in
  `metadata["malformed_tool_arguments"]`: the agent can then answer that tool_use with
  an error result and let the model correct itself, which a refused call could not.
- usage: OpenAI's `prompt_tokens` include cached tokens, ours do not (Anthropic's
  convention, so `Usage.total_tokens` and costs add up the same for every provider):
  input = prompt_tokens − cached_tokens, cache_read = cached_tokens. A server that
  reports no usage gets the local estimate (`core.tokens`), flagged `usage_estimated`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from faultmaven.core.llm import (
    ContentBlock,
    LLMRequest,
    LLMResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
    error_for_status,
    retry_after_from_headers,
)
from faultmaven.core.tokens import estimate_input_tokens, estimate_text_tokens

if TYPE_CHECKING:
    import httpx

_FINISH_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_MAX_ERROR_DETAIL = 200


def _tool_result_text(block: ToolResultBlock) -> str:
    return f"Error: {block.content}" if block.is_error else block.content


def chat_messages(request: LLMRequest) -> list[dict[str, Any]]:
    """The Chat Completions `messages` for `request`."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        texts = [b.text for b in message.content if isinstance(b, TextBlock)]
        if message.role == "assistant":
            calls = [
                {
                    "id": b.id,
                    "type": "function",
                    "function": {"name": b.name, "arguments": json.dumps(b.input)},
                }
                for b in message.content
                if isinstance(b, ToolUseBlock)
            ]
            entry: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
            continue
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": block.tool_use_id,
                        "content": _tool_result_text(block),
                    }
                )
        if texts:
            out.append({"role": "user", "content": "\n\n".join(texts)})
    return out


def chat_body(request: LLMRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The Chat Completions request body for `request`."""
    body: dict[str, Any] = {
        "model": model,
        "messages": chat_messages(request),
        "max_tokens": request.max_tokens,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        if choice.type == "tool":
            if not choice.name:
                raise ProviderRequestError("tool_choice 'tool' needs the tool's name")
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif choice.type == "any":
            body["tool_choice"] = "required"
        else:
            body["tool_choice"] = choice.type
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _content_text(content: Any) -> str:
    """The message's text: a string, or (some servers, and gateways in front of other
    providers) a list of content parts of which the text parts count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def _tool_input(arguments: Any) -> tuple[dict[str, Any], bool]:
    """The parsed arguments, and whether they were malformed (kept raw)."""
    if isinstance(arguments, dict):
        return arguments, False
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}, False
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return {"_raw": arguments}, True
        if isinstance(parsed, dict):
            return parsed, False
    return {"_raw": arguments if isinstance(arguments, str) else json.dumps(arguments)}, True


def _stop_reason(
    finish_reason: Any, matched_stop: Any, request: LLMRequest, has_tool_calls: bool
) -> str:
    if has_tool_calls and finish_reason in (None, "stop", "tool_calls", "function_call"):
        # Some servers (Ollama) finish a tool call with "stop".
        return "tool_use"
    if finish_reason == "stop" and matched_stop in request.stop_sequences:
        # vLLM names the stop string that ended the answer.
        return "stop_sequence"
    if finish_reason is None:
        return "end_turn"
    return _FINISH_REASONS.get(str(finish_reason), str(finish_reason))


def _stream_error(error: Any) -> ProviderError:
    """An error event inside a stream: its own code says whether a retry may help (a
    context-length error would fail again on any retry), else a server error."""
    status: int | None = None
    kind = ""
    if isinstance(error, dict):
        code = error.get("code")
        status = code if isinstance(code, int) else None
        if status is None and isinstance(code, str) and code.isdigit():
            status = int(code)
        kind = str(error.get("type") or error.get("code") or "")
    message = f"openai_compatible: error event in the stream ({kind[:64]})"
    if status is not None and 400 <= status < 600:
        return error_for_status(status, message)
    if any(word in kind for word in ("invalid", "context_length", "bad_request", "validation")):
        return ProviderRequestError(message, status=400)
    return ProviderServerError(message)


def _usage(raw: Any, request: LLMRequest, output_text: str) -> tuple[Usage, bool]:
    if not isinstance(raw, dict) or not isinstance(raw.get("prompt_tokens"), int):
        return (
            Usage(
                input_tokens=estimate_input_tokens(request),
                output_tokens=estimate_text_tokens(output_text),
            ),
            True,
        )
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and cached > 0 else 0
    completion = raw.get("completion_tokens")
    counted = isinstance(completion, int)
    return (
        Usage(
            input_tokens=max(raw["prompt_tokens"] - cached, 0),
            # A server that counts the prompt but not the answer: the answer is estimated.
            output_tokens=completion if counted else estimate_text_tokens(output_text),
            cache_read_input_tokens=cached,
        ),
        not counted,
    )


def _response(
    *,
    text: str,
    tool_calls: list[dict[str, Any]],
    finish_reason: Any,
    matched_stop: Any,
    usage: Any,
    model: Any,
    fallback_model: str,
    request: LLMRequest,
    latency_ms: float,
    response_id: Any,
) -> LLMResponse:
    content: list[ContentBlock] = []
    if text:
        content.append(TextBlock(text=text))
    malformed: list[str] = []
    arguments_text: list[str] = []
    for index, call in enumerate(tool_calls):
        function = call.get("function") or {}
        call_id = str(call.get("id") or f"call_{index}")
        arguments = function.get("arguments")
        tool_input, bad = _tool_input(arguments)
        if bad:
            malformed.append(call_id)
        arguments_text.append(arguments if isinstance(arguments, str) else json.dumps(arguments))
        name = str(function.get("name") or "")
        content.append(ToolUseBlock(id=call_id, name=name, input=tool_input))
    parsed_usage, estimated = _usage(usage, request, text + "".join(arguments_text))
    metadata: dict[str, Any] = {}
    if isinstance(response_id, str):
        metadata["response_id"] = response_id
    if malformed:
        metadata["malformed_tool_arguments"] = malformed
    return LLMResponse(
        content=content,
        stop_reason=_stop_reason(finish_reason, matched_stop, request, bool(tool_calls)),
        usage=parsed_usage,
        model=model if isinstance(model, str) and model else fallback_model,
        latency_ms=latency_ms,
        provider="openai_compatible",
        usage_estimated=estimated,
        metadata=metadata,
    )


def _status_error(response: httpx.Response) -> ProviderError:
    """The error for a non-2xx answer; its message carries the server's error type and
    (truncated) message, which describe the failure, never the prompt."""
    detail = ""
    try:
        body = json.loads(response.read() or b"null")
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind = error.get("type") or error.get("code") or ""
        detail = f"{kind}: {str(error.get('message') or '')[:_MAX_ERROR_DETAIL]}"
    elif isinstance(error, str):
        detail = error[:_MAX_ERROR_DETAIL]
    return error_for_status(
        response.status_code,
        f"openai_compatible answered {response.status_code} {detail}".rstrip(),
        retry_after=retry_after_from_headers(response.headers),
    )


def _transport_error(exc: Exception) -> ProviderError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError("openai_compatible: the call timed out")
    if isinstance(exc, httpx.TransportError):
        return ProviderConnectionError(
            f"openai_compatible: connection failed ({type(exc).__name__})"
        )
    return ProviderServerError(f"openai_compatible: {type(exc).__name__} while reading the answer")


class OpenAICompatibleLanguageModel:
    """`base_url` ends with the API's version segment, like `http://host:8000/v1`; the
    key, when set, is sent as a bearer token. One `httpx.Client` per adapter keeps its
    connections alive across calls. One attempt per call: httpx does not retry."""

    def __init__(self, *, model: str, base_url: str, api_key: str | None = None) -> None:
        self._model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        # Stripped: a key pasted with its trailing newline cannot travel in a header.
        self._api_key = api_key.strip() if api_key else None
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def provider(self) -> str:
        return "openai_compatible"

    @property
    def model(self) -> str:
        return self._model

    def _get_client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    import httpx

                    headers = {"accept": "application/json"}
                    if self._api_key:
                        headers["authorization"] = f"Bearer {self._api_key}"
                    self._client = httpx.Client(headers=headers)
                client = self._client
        return client

    def warm(self) -> None:
        self._get_client()

    def close(self) -> None:
        """Close the pooled connections (tests; a Lambda keeps them for warm calls)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def count_tokens(self, request: LLMRequest, *, timeout: float) -> int | None:
        return None

    def complete(self, request: LLMRequest, *, timeout: float) -> LLMResponse:
        body = chat_body(request, self._model, stream=False)
        client = self._get_client()
        started = time.perf_counter()
        try:
            response = client.post(self._url, json=body, timeout=timeout)
            if response.status_code >= 400:
                raise _status_error(response)
            payload = response.json()
            latency_ms = (time.perf_counter() - started) * 1000.0
            choice = payload["choices"][0]
            message = choice.get("message") or {}
            return _response(
                text=_content_text(message.get("content")),
                tool_calls=list(message.get("tool_calls") or []),
                finish_reason=choice.get("finish_reason"),
                matched_stop=choice.get("stop_reason"),
                usage=payload.get("usage"),
                model=payload.get("model"),
                fallback_model=self._model,
                request=request,
                latency_ms=latency_ms,
                response_id=payload.get("id"),
            )
        except ProviderError:
            raise
        except Exception as exc:
            raise _transport_error(exc) from exc

    def stream(self, request: LLMRequest, *, timeout: float) -> Iterator[StreamEvent]:
        """Server-sent chunks: text deltas are yielded as they arrive, tool-call deltas
        are accumulated by index, and the whole response comes last. `timeout` bounds
        the whole stream, not only each read."""
        body = chat_body(request, self._model, stream=True)
        client = self._get_client()
        started = time.perf_counter()
        deadline = started + timeout
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish_reason: Any = None
        matched_stop: Any = None
        usage: Any = None
        model: Any = None
        response_id: Any = None
        done = False
        try:
            with client.stream("POST", self._url, json=body, timeout=timeout) as response:
                if response.status_code >= 400:
                    raise _status_error(response)
                for line in response.iter_lines():
                    if time.perf_counter() > deadline:
                        raise ProviderTimeoutError(
                            f"openai_compatible: the stream outlived its {timeout:g} s"
                        )
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    chunk = json.loads(data)
                    if isinstance(chunk.get("error"), dict | str):
                        raise _stream_error(chunk["error"])
                    model = chunk.get("model") or model
                    response_id = chunk.get("id") or response_id
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            text.append(delta["content"])
                            yield TextDelta(text=delta["content"])
                        for part in delta.get("tool_calls") or []:
                            call = calls.setdefault(
                                int(part.get("index", len(calls))),
                                {"id": None, "function": {"name": "", "arguments": ""}},
                            )
                            if part.get("id"):
                                call["id"] = part["id"]
                            function = part.get("function") or {}
                            if function.get("name"):
                                call["function"]["name"] += function["name"]
                            if function.get("arguments"):
                                call["function"]["arguments"] += function["arguments"]
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
                        if choice.get("stop_reason") is not None:
                            matched_stop = choice["stop_reason"]
            if not done and finish_reason is None:
                # The connection closed mid-answer: what arrived is not the answer.
                raise ProviderConnectionError(
                    "openai_compatible: the stream ended before its finish_reason"
                )
            latency_ms = (time.perf_counter() - started) * 1000.0
            yield _response(
                text="".join(text),
                tool_calls=[calls[i] for i in sorted(calls)],
                finish_reason=finish_reason,
                matched_stop=matched_stop,
                usage=usage,
                model=model,
                fallback_model=self._model,
                request=request,
                latency_ms=latency_ms,
                response_id=response_id,
            )
        except ProviderError:
            raise
        except Exception as exc:
            raise _transport_error(exc) from exc
