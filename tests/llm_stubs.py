"""Wire-faithful local stubs of the Messages API (Anthropic and Bedrock routes) and of
OpenAI Chat Completions, for the real `anthropic` SDK and httpx to talk to over HTTP.

Each stub is a stdlib `ThreadingHTTPServer` on 127.0.0.1 (random port). It is scripted
with a queue of answers (`Text`, `ToolCall`, `Fail`), falls back to a default answer
when the queue is empty, and records every request it received (path, headers, parsed
JSON body) so a test can inspect exactly what left the process. Like the real services,
it checks credentials and refuses malformed requests (a tool_result that answers no
tool_use, a forced tool that was not offered) with the real error bodies.

Nothing here imports faultmaven: the stubs know only the wire protocols.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

API_KEY = "stub-key"


# --- scripted answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text answer. `chunks` splits it for streaming; `chunk_delay` sleeps between
    streamed events (to outlive a caller's timeout mid-stream); `cut_short` closes a
    stream's connection after its first text delta, with no closing events (a dropped
    connection)."""

    text: str = "pong"
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None
    delay: float = 0.0
    chunks: int = 2
    chunk_delay: float = 0.0
    cut_short: bool = False


@dataclass(frozen=True)
class ToolCall:
    """A tool call. `raw_arguments` (Chat Completions only) sends that string verbatim
    as the call's arguments, valid JSON or not."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    id: str | None = None
    raw_arguments: str | None = None
    usage: dict[str, int] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class Fail:
    """An error answer: `status` with the provider's error body. With `mid_stream`, a
    streaming request first gets a 200 and a message_start, then an `error` event."""

    status: int
    type: str
    message: str = "stub failure"
    retry_after: str | None = None
    retry_after_ms: str | None = None
    delay: float = 0.0
    mid_stream: bool = False


@dataclass(frozen=True)
class Raw:
    """Exactly this response, whatever was asked: for answers no well-behaved service
    sends (an HTML error page from a proxy, a malformed body) and for block types the
    scripted answers do not model (thinking)."""

    status: int
    body: str | dict[str, Any] | list[Any]
    content_type: str = "application/json"
    delay: float = 0.0


Answer = Text | ToolCall | Fail | Raw


def _send_raw(handler: BaseHTTPRequestHandler, answer: Raw) -> None:
    data = (answer.body if isinstance(answer.body, str) else json.dumps(answer.body)).encode()
    handler.send_response(answer.status)
    handler.send_header("content-type", answer.content_type)
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    # The client's address and port: the same port on two requests means the client
    # reused its connection.
    peer: tuple[str, int]


def estimate(value: Any) -> int:
    """The stubs' token count: ≈ 4 characters of JSON a token, never 0."""
    return max(1, len(json.dumps(value, sort_keys=True)) // 4)


def _schema_example(schema: dict[str, Any]) -> dict[str, Any]:
    """An input satisfying the required properties of a tool's JSON schema, for the
    default answer to a forced tool call."""
    example: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    for name in schema.get("required") or list(properties)[:1]:
        kind = (properties.get(name) or {}).get("type")
        example[name] = {"integer": 1, "number": 1.0, "boolean": True, "array": []}.get(
            kind, "stub"
        )
    return example


class _RefusedError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


# --- the server ---------------------------------------------------------------------


class _StubServer:
    """The scripted queue, the request log and the HTTP plumbing shared by both stubs."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in separate writes: without this, Nagle's
                # algorithm and the client's delayed ACK add ≈ 40 ms to every answer
                # on a kept-alive connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with stub._lock:
                    stub.requests.append(
                        Received("POST", self.path, headers, body, self.client_address[:2])
                    )
                # A client that gave up (its timeout) gets no answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    stub.handle(self, self.path, headers, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> _StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> _StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queue(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    def pending(self) -> int:
        """Queued answers not asked for yet (a script that ran as planned leaves none)."""
        with self._lock:
            return len(self._answers)

    def next_answer(self, body: Any) -> Answer:
        with self._lock:
            if self._answers:
                return self._answers.popleft()
        return self.default_answer(body)

    def default_answer(self, body: Any) -> Answer:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def handle(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], body: Any
    ) -> None:
        raise NotImplementedError

    # Wire helpers.

    @staticmethod
    def send_json(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    @staticmethod
    def start_stream(handler: BaseHTTPRequestHandler, content_type: str) -> None:
        handler.send_response(200)
        handler.send_header("content-type", content_type)
        handler.send_header("cache-control", "no-cache")
        # No length: the stream ends when the server closes the connection.
        handler.send_header("connection", "close")
        handler.end_headers()
        handler.close_connection = True


# --- Messages API ---------------------------------------------------------------------

_BEDROCK_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<action>invoke|invoke-with-response-stream)$"
)
_BEDROCK_ERRORS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _event_stream_frame(payload: bytes, headers: dict[str, str]) -> bytes:
    """One AWS event-stream message (the framing Bedrock's streaming responses use):
    prelude (total length, headers length, CRC32), string headers, payload, CRC32."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name
        encoded += struct.pack("!BH", 7, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


class MessagesStub(_StubServer):
    """`POST /v1/messages` (JSON or `stream: true` SSE), `POST /v1/messages/count_tokens`,
    and Bedrock's `POST /model/{id}/invoke` and `/invoke-with-response-stream` (AWS
    event-stream framing), checking `x-api-key` / `anthropic-version` (or a SigV4
    `authorization`) like the real endpoints.

    Prompt caching is modelled: the prefix up to a request's last `cache_control`
    breakpoint (tools, then system, then messages) is written to the cache the first
    time (`cache_creation_input_tokens`) and read on later requests with the same
    prefix (`cache_read_input_tokens`)."""

    def __init__(self, *, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self._cached_prefixes: set[str] = set()

    def default_answer(self, body: Any) -> Answer:
        choice = (body or {}).get("tool_choice") or {}
        tools = (body or {}).get("tools") or []
        if choice.get("type") in ("tool", "any") and tools:
            name = choice.get("name") or tools[0]["name"]
            tool = next((t for t in tools if t["name"] == name), tools[0])
            return ToolCall(name=name, input=_schema_example(tool.get("input_schema") or {}))
        return Text("pong")

    # Validation like the real API's.

    def _check_headers(self, headers: dict[str, str], bedrock: bool) -> None:
        if bedrock:
            auth = headers.get("authorization", "")
            if not auth.startswith(("AWS4-HMAC-SHA256 ", "Bearer ")):
                raise _RefusedError(403, "authentication_error", "missing authentication token")
            return
        # The SDK sends the key as `authorization: Bearer` (2.x) or `x-api-key` (older
        # clients, curl examples); the API takes either, and reads x-api-key when both
        # are present.
        presented = headers.get("x-api-key") or headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if presented != self.api_key:
            raise _RefusedError(401, "authentication_error", "invalid x-api-key")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", headers.get("anthropic-version", "")):
            raise _RefusedError(
                400, "invalid_request_error", "anthropic-version: header is required"
            )

    @staticmethod
    def _check_body(body: Any, *, count: bool, bedrock: bool, version: str) -> None:
        if not isinstance(body, dict):
            raise _RefusedError(400, "invalid_request_error", "body: JSON object expected")
        # API version 2026-10-21 removed the sampling parameters: any of them is a 400,
        # even at its default value.
        if (version or "0") >= "2026-10-21":
            for name in ("temperature", "top_p", "top_k"):
                if name in body:
                    raise _RefusedError(
                        400, "invalid_request_error", f"{name}: Extra inputs are not permitted"
                    )
        if bedrock:
            if "model" in body or not body.get("anthropic_version"):
                raise _RefusedError(400, "invalid_request_error", "Malformed input request")
        elif not isinstance(body.get("model"), str):
            raise _RefusedError(400, "invalid_request_error", "model: Field required")
        if not count and not (isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0):
            raise _RefusedError(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _RefusedError(
                400, "invalid_request_error", "messages: at least one message is required"
            )
        tool_names = {t.get("name") for t in body.get("tools") or []}
        choice = body.get("tool_choice")
        if (
            isinstance(choice, dict)
            and choice.get("type") == "tool"
            and choice.get("name") not in tool_names
        ):
            raise _RefusedError(400, "invalid_request_error", "tool_choice: tool not found")
        previous_tool_uses: set[str] = set()
        for index, message in enumerate(messages):
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            unanswerable = [
                block
                for block in blocks
                if block.get("type") == "tool_result"
                and block.get("tool_use_id") not in previous_tool_uses
            ]
            if message.get("role") == "user" and unanswerable:
                raise _RefusedError(
                    400,
                    "invalid_request_error",
                    f"messages.{index}: unexpected `tool_use_id` found in `tool_result` blocks",
                )
            previous_tool_uses = (
                {b.get("id") for b in blocks if b.get("type") == "tool_use"}
                if message.get("role") == "assistant"
                else set()
            )

    def _prefix_tokens(self, body: dict[str, Any]) -> tuple[int, bool]:
        """(tokens of the cached prefix, whether it was already cached)."""
        parts: list[Any] = []
        cached_upto: list[Any] | None = None
        for tool in body.get("tools") or []:
            parts.append(tool)
            if tool.get("cache_control"):
                cached_upto = list(parts)
        system = body.get("system")
        for block in system if isinstance(system, list) else ([system] if system else []):
            parts.append(block)
            if isinstance(block, dict) and block.get("cache_control"):
                cached_upto = list(parts)
        if cached_upto is None:
            return 0, False
        key = hashlib.sha256(json.dumps(cached_upto, sort_keys=True).encode()).hexdigest()
        with self._lock:
            hit = key in self._cached_prefixes
            self._cached_prefixes.add(key)
        return estimate(cached_upto), hit

    def _usage(self, body: dict[str, Any], answer: Text | ToolCall, output: Any) -> dict[str, int]:
        if answer.usage is not None:
            return {
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                **answer.usage,
            }
        prefix, hit = self._prefix_tokens(body)
        total = estimate({k: body.get(k) for k in ("system", "tools", "messages")})
        return {
            "input_tokens": max(1, total - prefix),
            "output_tokens": estimate(output),
            "cache_creation_input_tokens": 0 if hit else prefix,
            "cache_read_input_tokens": prefix if hit else 0,
        }

    @staticmethod
    def _content(answer: Text | ToolCall) -> list[dict[str, Any]]:
        if isinstance(answer, Text):
            return [{"type": "text", "text": answer.text}]
        blocks: list[dict[str, Any]] = []
        if answer.text:
            blocks.append({"type": "text", "text": answer.text})
        blocks.append(
            {
                "type": "tool_use",
                "id": answer.id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": answer.name,
                "input": answer.input,
            }
        )
        return blocks

    # HTTP.

    def handle(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], body: Any
    ) -> None:
        route = _BEDROCK_PATH.match(path)
        bedrock = route is not None
        try:
            if bedrock:
                assert route is not None
                model = unquote(route["model"])
                stream = route["action"] == "invoke-with-response-stream"
                count = False
            elif path.split("?")[0] == "/v1/messages":
                model = body.get("model") if isinstance(body, dict) else ""
                stream = isinstance(body, dict) and body.get("stream") is True
                count = False
            elif path.split("?")[0] == "/v1/messages/count_tokens":
                model, stream, count = "", False, True
            else:
                raise _RefusedError(404, "not_found_error", f"Not found: {path}")
            self._check_headers(headers, bedrock)
            version = (
                body.get("anthropic_version", "")
                if bedrock and isinstance(body, dict)
                else headers.get("anthropic-version", "")
            )
            self._check_body(body, count=count, bedrock=bedrock, version=version)
        except _RefusedError as refused:
            self._send_error(handler, refused.status, refused.error_type, refused.message, bedrock)
            return
        if count:
            self.send_json(
                handler,
                200,
                {
                    "input_tokens": estimate(
                        {k: body.get(k) for k in ("system", "tools", "messages")}
                    )
                },
            )
            return
        answer = self.next_answer(body)
        self.sleep(answer.delay)
        if isinstance(answer, Raw):
            _send_raw(handler, answer)
            return
        if isinstance(answer, Fail) and not (answer.mid_stream and stream):
            extra: dict[str, str] = {}
            if answer.retry_after is not None:
                extra["retry-after"] = answer.retry_after
            if answer.retry_after_ms is not None:
                extra["retry-after-ms"] = answer.retry_after_ms
            self._send_error(handler, answer.status, answer.type, answer.message, bedrock, extra)
            return
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        if not stream:
            assert not isinstance(answer, Fail)
            content = self._content(answer)
            stop = answer.stop_reason if isinstance(answer, Text) else "tool_use"
            self.send_json(
                handler,
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": self._usage(body, answer, content),
                },
                {"request-id": f"req_{uuid.uuid4().hex[:24]}"},
            )
            return
        self._stream(handler, body, answer, model, message_id, bedrock)

    def _send_error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        error_type: str,
        message: str,
        bedrock: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = dict(extra or {})
        if bedrock:
            headers["x-amzn-errortype"] = _BEDROCK_ERRORS.get(status, "InternalServerException")
            self.send_json(handler, status, {"message": message}, headers)
            return
        headers["request-id"] = f"req_{uuid.uuid4().hex[:24]}"
        payload = {"type": "error", "error": {"type": error_type, "message": message}}
        self.send_json(handler, status, payload, headers)

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        answer: Answer,
        model: str,
        message_id: str,
        bedrock: bool,
    ) -> None:
        def emit(event: dict[str, Any]) -> None:
            if bedrock:
                payload = json.dumps(
                    {"bytes": base64.b64encode(json.dumps(event).encode()).decode()}
                )
                frame = _event_stream_frame(
                    payload.encode(),
                    {
                        ":event-type": "chunk",
                        ":content-type": "application/json",
                        ":message-type": "event",
                    },
                )
                handler.wfile.write(frame)
            else:
                handler.wfile.write(
                    f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
                )
            handler.wfile.flush()

        self.start_stream(
            handler,
            "application/vnd.amazon.eventstream" if bedrock else "text/event-stream",
        )
        content = [] if isinstance(answer, Fail) else self._content(answer)
        usage = (
            {"input_tokens": 1, "output_tokens": 0}
            if isinstance(answer, Fail)
            else self._usage(body, answer, content)
        )
        start_usage = {**usage, "output_tokens": 1}
        emit(
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            }
        )
        if isinstance(answer, Fail):
            error = {"type": "error", "error": {"type": answer.type, "message": answer.message}}
            if bedrock:
                # Bedrock reports a failure inside a stream as an exception frame.
                name = _BEDROCK_ERRORS.get(answer.status, "InternalServerException")
                frame = _event_stream_frame(
                    json.dumps({"message": answer.message}).encode(),
                    {
                        ":exception-type": name[0].lower() + name[1:],
                        ":content-type": "application/json",
                        ":message-type": "exception",
                    },
                )
                handler.wfile.write(frame)
                handler.wfile.flush()
            else:
                handler.wfile.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                handler.wfile.flush()
            return
        if not bedrock:
            emit({"type": "ping"})
        delay = answer.chunk_delay
        for index, block in enumerate(content):
            if block["type"] == "text":
                emit(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
                text = block["text"]
                pieces = max(1, answer.chunks if isinstance(answer, Text) else 2)
                size = max(1, -(-len(text) // pieces))
                for start in range(0, len(text), size):
                    self.sleep(delay)
                    emit(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": text[start : start + size]},
                        }
                    )
                    if isinstance(answer, Text) and answer.cut_short:
                        return
            else:
                emit(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": block["id"],
                            "name": block["name"],
                            "input": {},
                        },
                    }
                )
                arguments = json.dumps(block["input"])
                middle = len(arguments) // 2
                for part in (arguments[:middle], arguments[middle:]):
                    self.sleep(delay)
                    emit(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        }
                    )
            emit({"type": "content_block_stop", "index": index})
        stop = answer.stop_reason if isinstance(answer, Text) else "tool_use"
        emit(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            }
        )
        emit({"type": "message_stop"})


# --- Chat Completions ------------------------------------------------------------------


class ChatCompletionsStub(_StubServer):
    """`POST /v1/chat/completions`, JSON or `stream: true` SSE (`data: {...}` chunks,
    tool-call deltas by index, a usage chunk when `stream_options.include_usage`, then
    `data: [DONE]`). With `api_key` set it wants `authorization: Bearer <key>`; with
    `usage=False` it reports no usage, like some self-hosted servers."""

    def __init__(self, *, api_key: str | None = None, usage: bool = True) -> None:
        super().__init__()
        self.api_key = api_key
        self.report_usage = usage

    def default_answer(self, body: Any) -> Answer:
        choice = (body or {}).get("tool_choice")
        tools = (body or {}).get("tools") or []
        if tools and (choice == "required" or isinstance(choice, dict)):
            name = (
                choice["function"]["name"]
                if isinstance(choice, dict)
                else tools[0]["function"]["name"]
            )
            tool = next((t for t in tools if t["function"]["name"] == name), tools[0])
            return ToolCall(
                name=name, input=_schema_example(tool["function"].get("parameters") or {})
            )
        return Text("pong")

    @staticmethod
    def _check(body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise _RefusedError(400, "invalid_request_error", "model is required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _RefusedError(400, "invalid_request_error", "messages must be a non-empty list")
        open_calls: set[str] = set()
        for message in messages:
            role = message.get("role")
            if role == "tool":
                if message.get("tool_call_id") not in open_calls:
                    raise _RefusedError(
                        400,
                        "invalid_request_error",
                        "messages with role 'tool' must be a response to a preceding "
                        "message with 'tool_calls'",
                    )
                continue
            open_calls = set()
            if role == "assistant":
                for call in message.get("tool_calls") or []:
                    json.loads(call["function"]["arguments"])  # must be a JSON string
                    open_calls.add(call["id"])
        names = {t["function"]["name"] for t in body.get("tools") or []}
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice["function"]["name"] not in names:
            raise _RefusedError(400, "invalid_request_error", "tool_choice names an unknown tool")

    def _usage(
        self, body: dict[str, Any], answer: Text | ToolCall, output: Any
    ) -> dict[str, Any] | None:
        if not self.report_usage:
            return None
        if answer.usage is not None:
            return dict(answer.usage)
        prompt = estimate(body.get("messages")) + estimate(body.get("tools") or [])
        completion = estimate(output)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
        }

    @staticmethod
    def _calls(answer: ToolCall) -> list[dict[str, Any]]:
        arguments = (
            answer.raw_arguments if answer.raw_arguments is not None else json.dumps(answer.input)
        )
        return [
            {
                "id": answer.id or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": answer.name, "arguments": arguments},
            }
        ]

    def handle(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], body: Any
    ) -> None:
        try:
            if path.split("?")[0] != "/v1/chat/completions":
                raise _RefusedError(404, "not_found_error", f"Not found: {path}")
            if (
                self.api_key is not None
                and headers.get("authorization") != f"Bearer {self.api_key}"
            ):
                raise _RefusedError(401, "invalid_api_key", "Incorrect API key provided")
            self._check(body)
        except _RefusedError as refused:
            self._error(handler, refused.status, refused.error_type, refused.message)
            return
        answer = self.next_answer(body)
        self.sleep(answer.delay)
        if isinstance(answer, Raw):
            _send_raw(handler, answer)
            return
        stream = body.get("stream") is True
        if isinstance(answer, Fail) and not (answer.mid_stream and stream):
            extra: dict[str, str] = {}
            if answer.retry_after is not None:
                extra["retry-after"] = answer.retry_after
            if answer.retry_after_ms is not None:
                extra["retry-after-ms"] = answer.retry_after_ms
            self._error(handler, answer.status, answer.type, answer.message, extra)
            return
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model = body["model"]
        if not stream:
            assert not isinstance(answer, Fail)
            message: dict[str, Any] = {"role": "assistant", "content": None}
            if isinstance(answer, Text):
                message["content"] = answer.text
                finish = {"end_turn": "stop", "max_tokens": "length"}.get(
                    answer.stop_reason, "stop"
                )
            else:
                message["content"] = answer.text or None
                message["tool_calls"] = self._calls(answer)
                finish = "tool_calls"
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            usage = self._usage(body, answer, message)
            if usage is not None:
                payload["usage"] = usage
            self.send_json(handler, 200, payload)
            return
        self._stream(handler, body, answer, model, completion_id)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        error_type: str,
        message: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        self.send_json(handler, status, payload, extra)

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        answer: Answer,
        model: str,
        completion_id: str,
    ) -> None:
        def chunk(choices: list[dict[str, Any]], **extra: Any) -> None:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": choices,
                **extra,
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        self.start_stream(handler, "text/event-stream")
        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if isinstance(answer, Fail):
            error = {"error": {"message": answer.message, "type": answer.type}}
            handler.wfile.write(f"data: {json.dumps(error)}\n\n".encode())
            handler.wfile.flush()
            return
        text = answer.text
        pieces = answer.chunks if isinstance(answer, Text) else 2
        size = max(1, -(-len(text) // max(1, pieces))) if text else 1
        for start in range(0, len(text), size):
            self.sleep(answer.chunk_delay)
            chunk(
                [
                    {
                        "index": 0,
                        "delta": {"content": text[start : start + size]},
                        "finish_reason": None,
                    }
                ]
            )
            if isinstance(answer, Text) and answer.cut_short:
                return
        finish = "stop"
        output: Any = text
        if isinstance(answer, ToolCall):
            finish = "tool_calls"
            (call,) = self._calls(answer)
            output = call
            arguments = call["function"]["arguments"]
            middle = len(arguments) // 2
            first = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": arguments[:middle]},
            }
            chunk([{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}])
            self.sleep(answer.chunk_delay)
            rest = {"index": 0, "function": {"arguments": arguments[middle:]}}
            chunk([{"index": 0, "delta": {"tool_calls": [rest]}, "finish_reason": None}])
        elif answer.stop_reason == "max_tokens":
            finish = "length"
        chunk([{"index": 0, "delta": {}, "finish_reason": finish}])
        usage = self._usage(body, answer, output)
        if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
            chunk([], usage=usage)
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()
