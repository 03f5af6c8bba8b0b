"""What the language-model adapters cost, against the local stubs (no model involved).

1. Cold import, in fresh interpreters: each adapter module (must not import its SDK),
   and `anthropic` itself (what the first call, or `warm()`, pays instead).
2. First call: client build (SDK import included) plus one round trip.
3. Per-call cost of `complete()` on a warm adapter against the stub, beside a bare httpx
   POST of the same body to the same stub: the difference is the adapter's own
   overhead (request mapping, SDK, response mapping).

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _support import header, median, percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CALLS = 300
IMPORT_RUNS = 5


def _cold(statement: str) -> float:
    """Median seconds of `statement` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout
        )
        for _ in range(IMPORT_RUNS)
    ]
    return median(runs)


def _timed(call: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return sorted(samples)


def _row(name: str, samples: list[float]) -> None:
    print(
        f"  {name:<34} p50 {percentile(samples, 0.5):6.2f} ms   "
        f"p95 {percentile(samples, 0.95):6.2f} ms   mean {statistics.fmean(samples):6.2f} ms"
    )


def main() -> None:
    header("Cold import (fresh interpreter, median of 5)")
    for module in ("anthropic", "bedrock", "openai_compatible"):
        seconds = _cold(f"import faultmaven.adapters.llm.{module}")
        print(f"  faultmaven.adapters.llm.{module:<20} {seconds * 1000:7.1f} ms")
    print(f"  {'anthropic (the SDK itself)':<44} {_cold('import anthropic') * 1000:7.1f} ms")

    import httpx

    from faultmaven.adapters.llm.anthropic import AnthropicLanguageModel
    from faultmaven.adapters.llm.bedrock import BedrockLanguageModel
    from faultmaven.adapters.llm.messages_api import request_kwargs
    from faultmaven.adapters.llm.openai_compatible import OpenAICompatibleLanguageModel, chat_body
    from faultmaven.core.llm import LLMRequest, Message, ToolSpec
    from tests.llm_stubs import API_KEY, ChatCompletionsStub, MessagesStub

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    request = LLMRequest(
        system="You are an SRE assistant. " * 20,
        messages=[Message.user("Which service is failing, and why? " * 10)],
        tools=[
            ToolSpec(
                name="lookup_service",
                description="Find a service.",
                input_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            )
        ],
    )
    with MessagesStub() as messages, ChatCompletionsStub() as chat:
        anthropic_model = AnthropicLanguageModel(
            model="claude-bench", api_key=lambda: API_KEY, base_url=messages.base_url
        )
        bedrock_model = BedrockLanguageModel(
            model="anthropic.claude-bench-v1:0", region="us-east-1", endpoint_url=messages.base_url
        )
        openai_model = OpenAICompatibleLanguageModel(
            model="llama-bench", base_url=f"{chat.base_url}/v1"
        )

        header("First call: client build (SDK import included) + one round trip")
        for name, model in (("anthropic", anthropic_model), ("bedrock", bedrock_model)):
            started = time.perf_counter()
            model.complete(request, timeout=10)
            print(f"  {name:<34} {(time.perf_counter() - started) * 1000:7.1f} ms")
        started = time.perf_counter()
        openai_model.complete(request, timeout=10)
        print(f"  {'openai_compatible':<34} {(time.perf_counter() - started) * 1000:7.1f} ms")

        header(f"Warm complete() against the stub ({CALLS} calls each)")
        raw = httpx.Client()
        messages_body = request_kwargs(request, "claude-bench")
        messages_headers = {"x-api-key": API_KEY, "anthropic-version": "2026-10-21"}
        chat_json = chat_body(request, "llama-bench", stream=False)
        baseline_messages = _timed(
            lambda: raw.post(
                f"{messages.base_url}/v1/messages", json=messages_body, headers=messages_headers
            ),
            CALLS,
        )
        baseline_chat = _timed(
            lambda: raw.post(f"{chat.base_url}/v1/chat/completions", json=chat_json), CALLS
        )
        results = {
            "anthropic adapter": _timed(
                lambda: anthropic_model.complete(request, timeout=10), CALLS
            ),
            "bedrock adapter (SigV4 signing)": _timed(
                lambda: bedrock_model.complete(request, timeout=10), CALLS
            ),
            "openai_compatible adapter": _timed(
                lambda: openai_model.complete(request, timeout=10), CALLS
            ),
        }
        _row("bare httpx POST /v1/messages", baseline_messages)
        _row("bare httpx POST /chat/completions", baseline_chat)
        for name, samples in results.items():
            _row(name, samples)
        header("Adapter overhead over a bare POST (p50 difference)")
        for name, samples in results.items():
            base = baseline_chat if name.startswith("openai") else baseline_messages
            print(f"  {name:<34} {percentile(samples, 0.5) - percentile(base, 0.5):6.2f} ms")
        raw.close()
        openai_model.close()


if __name__ == "__main__":
    main()
