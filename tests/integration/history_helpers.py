"""Building history records the way a domain would, and reading back every history row
as text (for the tests that look for leaked secrets)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from faultmaven.container import Container
from faultmaven.history.recorder import LLMCallRecord, ToolCallRecord, now_us

HISTORY_TABLES = (
    "history_sessions",
    "history_stages",
    "history_llm_interactions",
    "history_tool_interactions",
)


def llm_record(
    session_id: str, stage_execution_id: str | None = None, **overrides: Any
) -> LLMCallRecord:
    values: dict[str, Any] = {
        "session_id": session_id,
        "stage_execution_id": stage_execution_id,
        "step_description": "summarize the extraction",
        "started_at_us": now_us(),
        "duration_ms": 120,
        "provider": "offline",
        "model": "offline-analyst",
        "temperature": 0.2,
        "request": {
            "system": "You are an SRE copilot.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "logs"}]}],
            "tools": [],
            "tool_choice": {"type": "auto"},
            "max_tokens": 512,
        },
        "response": {
            "content": [{"type": "text", "text": "A summary."}],
            "stop_reason": "end_turn",
        },
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 3,
        "cost_usd": 0.0015,
        "success": True,
        "error_message": None,
        **overrides,
    }
    return LLMCallRecord(**values)


def tool_record(
    session_id: str, stage_execution_id: str | None = None, **overrides: Any
) -> ToolCallRecord:
    values: dict[str, Any] = {
        "session_id": session_id,
        "stage_execution_id": stage_execution_id,
        "step_description": "search the runbooks",
        "server_name": "faultmaven",
        "tool_name": "knowledge_search",
        "arguments": {"query": "latency"},
        "result": {"hits": 2},
        "available_tools": {"tools": ["knowledge_search"]},
        "started_at_us": now_us(),
        "duration_ms": 30,
        "success": True,
        "error_message": None,
        **overrides,
    }
    return ToolCallRecord(**values)


def history_rows(container: Container, table: str, **where: str) -> list[dict[str, Any]]:
    condition = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    with container.database.engine.connect() as connection:
        result = connection.execute(text(f"SELECT * FROM {table} WHERE {condition}"), where)  # noqa: S608
        return [dict(row._mapping) for row in result]


def history_text(container: Container) -> str:
    """Every history row of every table, serialized."""
    return "\n".join(
        json.dumps(history_rows(container, table), default=str) for table in HISTORY_TABLES
    )
