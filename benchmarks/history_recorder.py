"""What recording costs a language-model or tool call: the history recorder's writes
against the embedded PostgreSQL (pgserver, Unix socket), as the LLM gateway pays them
per call (issue 12 §5: port + recorder overhead ≤ 5 ms p95, the model excluded).

Measured: `record_llm` with a realistic redacted request (a system prompt, a few
messages, two tool definitions), `record_tool`, a stage around nothing (two writes),
`spent` (the budget check before each call), and `record_llm` with the database gone
(the recorder must give up quickly and not fail the caller).

Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from _support import embedded_stores, header, percentile

from faultmaven.adapters.postgres import Database
from faultmaven.core.logging import configure_logging
from faultmaven.core.settings import load_settings
from faultmaven.history.recorder import HistoryRecorder, LLMCallRecord, ToolCallRecord, now_us

WARMUP = 50
MEASURED = 1000
BUDGET_MS = 5.0

_TEXT = "Checkout latency rose after the 14:05 deploy; p99 went from 180 ms to 2.4 s. " * 8
REQUEST = {
    "system": "You are FaultMaven, an SRE copilot. Answer from the evidence given. " * 4,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": _TEXT}]},
        {"role": "assistant", "content": [{"type": "text", "text": _TEXT[:400]}]},
        {"role": "user", "content": [{"type": "text", "text": "What changed first?"}]},
    ],
    "tools": [
        {
            "name": name,
            "description": "Search the knowledge bases for runbooks and past incidents.",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
        for name in ("knowledge_search", "evidence_lookup")
    ],
    "tool_choice": {"type": "auto"},
    "max_tokens": 1024,
}
RESPONSE = {"content": [{"type": "text", "text": _TEXT[:600]}], "stop_reason": "end_turn"}


def llm(session_id: str, stage: str | None) -> LLMCallRecord:
    return LLMCallRecord(
        session_id=session_id,
        stage_execution_id=stage,
        step_description="hypothesis: rank the causes",
        started_at_us=now_us(),
        duration_ms=900,
        provider="anthropic",
        model="claude-sonnet",
        temperature=0.2,
        request=REQUEST,
        response=RESPONSE,
        input_tokens=1800,
        output_tokens=240,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=1200,
        cost_usd=0.0071,
        success=True,
        error_message=None,
    )


def tool(session_id: str, stage: str | None) -> ToolCallRecord:
    return ToolCallRecord(
        session_id=session_id,
        stage_execution_id=stage,
        step_description="look up runbooks",
        server_name="faultmaven",
        tool_name="knowledge_search",
        arguments={"query": "checkout latency after deploy"},
        result={"hits": [{"title": "Rollback a deploy", "score": 0.82}] * 5},
        available_tools={"tools": ["knowledge_search", "evidence_lookup"]},
        started_at_us=now_us(),
        duration_ms=35,
        success=True,
        error_message=None,
    )


def measure(action: Callable[[int], Any], count: int = MEASURED) -> list[float]:
    for i in range(WARMUP):
        action(i)
    latencies = []
    for i in range(count):
        before = time.perf_counter()
        action(i)
        latencies.append(time.perf_counter() - before)
    return sorted(latencies)


def row(label: str, latencies: list[float], budgeted: bool = False) -> None:
    p50, p95, p99 = (percentile(latencies, f) * 1000 for f in (0.5, 0.95, 0.99))
    verdict = ""
    if budgeted:
        verdict = f"≤ {BUDGET_MS:g} ms: {'ok' if p95 <= BUDGET_MS else 'OVER'} (p95)"
    print(f"{label:44} {len(latencies):6d} {p50:8.3f} {p95:8.3f} {p99:8.3f}   {verdict}")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    with embedded_stores() as stores:
        settings = load_settings(
            environment="test", database_url=stores.database_url, redis_url=stores.redis_url
        )
        database = Database.from_settings(settings)
        recorder = HistoryRecorder(database)
        session_id = recorder.open_session(
            agent_type="investigation", chain_id="investigation", case_id=None
        )
        try:
            with recorder.stage(session_id, stage_id="h", stage_name="H", agent="a") as stage:
                header(f"History recorder against the embedded PostgreSQL ({MEASURED} calls)")
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"(load average {load} on {os.cpu_count()} cores)")
                print(f"{'operation':44} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
                row(
                    "record_llm (≈ 6 KB redacted request)",
                    measure(lambda _: recorder.record_llm(llm(session_id, stage.execution_id))),
                    budgeted=True,
                )
                row(
                    "record_tool",
                    measure(lambda _: recorder.record_tool(tool(session_id, stage.execution_id))),
                    budgeted=True,
                )
                row(
                    "spent(session_id=…) (budget check)",
                    measure(lambda _: recorder.spent(session_id=session_id), count=200),
                )

            def empty_stage(i: int) -> None:
                with recorder.stage(session_id, stage_id=f"s{i}", stage_name="S", agent="a"):
                    pass

            row("stage() around nothing (start + finish)", measure(empty_stage, count=300))
        finally:
            database.dispose()
        down = load_settings(
            environment="test",
            database_url=f"postgresql://nobody@127.0.0.1:{_closed_port()}/none",
            redis_url=stores.redis_url,
        )
        configure_logging("ERROR")  # each dropped write logs a warning: not the figure
        gone = HistoryRecorder(Database.from_settings(down))
        row(
            "record_llm with PostgreSQL gone (dropped)",
            measure(lambda _: gone.record_llm(llm(session_id, None)), count=200),
        )


if __name__ == "__main__":
    main()
