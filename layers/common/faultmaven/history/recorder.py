"""The write side of the history: what domains call while they investigate.

Two promises, both deliberate:

- Recording never fails the caller. A history write that raises is logged (its type and
  the ids, never content) and dropped; `open_session` and `stage` still hand back usable
  ids, so the work they wrap goes on. Only `spent` raises: a budget check needs a real
  answer, not a guess of zero.
- A call that failed is recorded all the same (`success=False`, its redacted error): the
  failures are what an audit looks for first.

Everything stored was redacted by the caller before it left the process; the free text
(errors, final analyses, step descriptions, stage outputs, tool arguments and results)
goes through the redactor once more here, and is capped, as a second line of defence.
Times are microseconds since the epoch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultmaven.core.clock import utcnow
from faultmaven.core.ids import new_id
from faultmaven.core.logging import logger
from faultmaven.db.tables import HistoryStage, HistoryToolInteraction
from faultmaven.history import store
from faultmaven.history.models import SessionStatus, StageStatus
from faultmaven.preprocessing.redact import redact

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from faultmaven.core.ports import Database

BUILT_IN_SERVER = "faultmaven"
MAX_ERROR_CHARS = 2_000
MAX_TEXT_CHARS = 20_000
MAX_STEP_CHARS = 500
MAX_NAME_CHARS = 128
# A JSON document stored whole up to this size (serialized); beyond it, a marker.
MAX_JSON_BYTES = 512 * 1024
_TRUNCATED = "…[truncated]"


def now_us() -> int:
    """Microseconds since the epoch, as EP-0010 keeps every time."""
    moment = utcnow()
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@dataclass(frozen=True)
class Spend:
    """What a case or a session has spent on language models so far."""

    tokens: int
    cost_usd: float
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass
class StageHandle:
    """Set `output` inside the block: it is stored when the stage completes."""

    session_id: str
    execution_id: str
    output: dict[str, Any] | None = None


@dataclass(frozen=True)
class LLMCallRecord:
    session_id: str
    stage_execution_id: str | None
    step_description: str
    started_at_us: int
    duration_ms: int
    provider: str
    model: str
    temperature: float | None
    request: dict[str, Any]  # redacted: system, messages, tools, tool_choice, max_tokens
    response: dict[str, Any] | None  # content blocks + stop_reason; None when the call failed
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float
    success: bool
    error_message: str | None
    tool_calls: list[dict[str, Any]] | None = None
    # The session's case, when the caller knows it (saves a lookup); else it is read.
    case_id: str | None = None


@dataclass(frozen=True)
class ToolCallRecord:
    session_id: str
    stage_execution_id: str | None
    step_description: str
    server_name: str
    tool_name: str
    arguments: dict[str, Any]
    result: dict[str, Any]
    available_tools: dict[str, Any]
    started_at_us: int
    duration_ms: int
    success: bool
    error_message: str | None
    communication_type: str = "tool_call"


class HistoryRecorder:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- sessions ----------------------------------------------------------------------------
    def open_session(
        self,
        *,
        agent_type: str,
        chain_id: str,
        case_id: str | None,
        owner_id: str | None = None,
        chain_definition: dict[str, Any] | None = None,
        alert_id: str | None = None,
        alert_type: str | None = None,
        alert_data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> str:
        """Start a session (in progress) and return its id. With `session_id`, opening it
        again (a retried task) changes nothing and returns the same id."""
        sid = session_id or new_id("hist")
        values = {
            "id": sid,
            "case_id": case_id,
            "owner_id": owner_id,
            "agent_type": _name(agent_type),
            "alert_id": alert_id,
            "alert_type": None if alert_type is None else _name(alert_type),
            "alert_data": _json(alert_data or {}),
            "status": SessionStatus.IN_PROGRESS.value,
            "started_at_us": now_us(),
            "session_metadata": _json(metadata or {}),
            "chain_id": _name(chain_id),
            "chain_definition": _json(chain_definition or {}),
        }
        self._write("open_session", {"session_id": sid}, lambda s: store.insert_session(s, values))
        return sid

    def close_session(
        self,
        session_id: str,
        *,
        status: str,
        final_analysis: str | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Finish a session. `metadata` is merged into what it was opened with."""

        def write(session: Session) -> None:
            values: dict[str, Any] = {
                "status": SessionStatus(status).value,
                "completed_at_us": now_us(),
                "final_analysis": _text(final_analysis, MAX_TEXT_CHARS),
                "error_message": _text(error, MAX_ERROR_CHARS),
            }
            if metadata:
                values["session_metadata"] = {
                    **(store.session_metadata(session, session_id) or {}),
                    **_json(metadata),
                }
            store.update_session(session, session_id, values)

        self._write("close_session", {"session_id": session_id}, write)

    # -- stages ------------------------------------------------------------------------------
    @contextmanager
    def stage(
        self,
        session_id: str,
        *,
        stage_id: str,
        stage_name: str,
        agent: str,
        index: int | None = None,
    ) -> Iterator[StageHandle]:
        """A stage around the block: active while it runs, then completed with
        `handle.output`, or failed with the (redacted, capped) error of the exception,
        which is re-raised unchanged."""
        handle = StageHandle(session_id=session_id, execution_id=new_id("stg"))
        started = now_us()
        ids = {"session_id": session_id, "execution_id": handle.execution_id}

        def begin(session: Session) -> None:
            position = index if index is not None else store.next_stage_index(session, session_id)
            store.add(
                session,
                HistoryStage(
                    execution_id=handle.execution_id,
                    session_id=session_id,
                    stage_id=_name(stage_id),
                    stage_index=position,
                    stage_name=_name(stage_name, 200),
                    agent=_name(agent),
                    status=StageStatus.ACTIVE.value,
                    started_at_us=started,
                ),
                flush=True,
            )
            store.update_session(
                session,
                session_id,
                {"current_stage_index": position, "current_stage_id": _name(stage_id)},
            )

        self._write("stage_start", ids, begin)
        try:
            yield handle
        except BaseException as exc:
            message = _text(f"{type(exc).__name__}: {exc}", MAX_ERROR_CHARS)
            self._finish_stage(ids, started, StageStatus.FAILED, None, message)
            raise
        self._finish_stage(ids, started, StageStatus.COMPLETED, handle.output, None)

    def _finish_stage(
        self,
        ids: dict[str, str],
        started: int,
        status: StageStatus,
        output: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        def write(session: Session) -> None:
            finished = now_us()
            store.update_stage(
                session,
                ids["execution_id"],
                {
                    "status": status.value,
                    "completed_at_us": finished,
                    "duration_ms": max(0, (finished - started) // 1000),
                    "stage_output": None if output is None else _json(output),
                    "error_message": error,
                },
            )

        self._write("stage_finish", ids, write)

    # -- interactions ------------------------------------------------------------------------
    def record_llm(self, record: LLMCallRecord) -> None:
        row_id = new_id("llm")

        def write(session: Session, stage_execution_id: str | None) -> None:
            store.insert_llm_interaction(
                session,
                {
                    "id": row_id,
                    "session_id": record.session_id,
                    "stage_execution_id": stage_execution_id,
                    "timestamp_us": record.started_at_us,
                    "step_description": _text(record.step_description, MAX_STEP_CHARS) or "",
                    "provider": _name(record.provider or "unknown", 64),
                    "model_name": _name(record.model or "unknown", 200),
                    "temperature": record.temperature,
                    # Redacted by the gateway (its only caller) just before: capped here.
                    "request": _capped_json(record.request),
                    "response": None if record.response is None else _json(record.response),
                    "input_tokens": max(0, record.input_tokens),
                    "output_tokens": max(0, record.output_tokens),
                    "cache_creation_input_tokens": max(0, record.cache_creation_input_tokens),
                    "cache_read_input_tokens": max(0, record.cache_read_input_tokens),
                    "cost_usd": max(0.0, record.cost_usd),
                    "duration_ms": max(0, record.duration_ms),
                    "success": record.success,
                    "error_message": _text(record.error_message, MAX_ERROR_CHARS),
                    "tool_calls": None if record.tool_calls is None else _json(record.tool_calls),
                },
            )
            # The budgets' running totals move with the record, in its transaction.
            store.add_spend(
                session,
                record.session_id,
                case_id=record.case_id,
                input_tokens=max(0, record.input_tokens),
                output_tokens=max(0, record.output_tokens),
                cache_creation_input_tokens=max(0, record.cache_creation_input_tokens),
                cache_read_input_tokens=max(0, record.cache_read_input_tokens),
                cost_usd=max(0.0, record.cost_usd),
            )

        self._write_interaction("record_llm", record.session_id, record.stage_execution_id, write)

    def record_tool(self, record: ToolCallRecord) -> None:
        row_id = new_id("tool")

        def write(session: Session, stage_execution_id: str | None) -> None:
            store.add(
                session,
                HistoryToolInteraction(
                    id=row_id,
                    session_id=record.session_id,
                    stage_execution_id=stage_execution_id,
                    timestamp_us=record.started_at_us,
                    step_description=_text(record.step_description, MAX_STEP_CHARS) or "",
                    server_name=_name(record.server_name or BUILT_IN_SERVER),
                    tool_name=_name(record.tool_name or "unknown"),
                    communication_type=_name(record.communication_type or "tool_call", 32),
                    arguments=_json(record.arguments),
                    result=_json(record.result),
                    available_tools=_json(record.available_tools),
                    duration_ms=max(0, record.duration_ms),
                    success=record.success,
                    error_message=_text(record.error_message, MAX_ERROR_CHARS),
                ),
            )

        self._write_interaction("record_tool", record.session_id, record.stage_execution_id, write)

    def _write_interaction(
        self,
        operation: str,
        session_id: str,
        stage_execution_id: str | None,
        write: Callable[[Session, str | None], None],
    ) -> None:
        """Write an interaction; if its session or stage row is missing (their own write
        failed earlier, a blip), put back a placeholder session and record it unstaged,
        so the interaction and its spend are not lost with them."""
        ids = _record_ids(session_id, stage_execution_id)
        try:
            with self._db.session() as session:
                write(session, stage_execution_id)
            return
        except Exception as exc:
            first_error = type(exc).__name__

        def repair(session: Session) -> None:
            store.insert_session(
                session,
                {
                    "id": session_id,
                    "agent_type": "unknown",
                    "status": SessionStatus.IN_PROGRESS.value,
                    "started_at_us": now_us(),
                    "alert_data": {},
                    "session_metadata": {"recovered": True},
                    "chain_id": "unknown",
                    "chain_definition": {},
                },
            )
            stage = stage_execution_id
            if stage is not None and not store.stage_exists(session, stage):
                stage = None
            write(session, stage)

        self._write(operation, {**ids, "first_error": first_error}, repair)

    # -- budgets -----------------------------------------------------------------------------
    def spent(self, *, case_id: str | None = None, session_id: str | None = None) -> Spend:
        """Tokens and USD recorded so far for a case (every session of it), a session, or
        the session within the case. Raises when the database cannot answer: a budget
        check must not pass on a guess."""
        if case_id is None and session_id is None:
            raise ValueError("spent() needs a case_id or a session_id")
        with self._db.session() as session:
            return _spend(store.spent(session, case_id=case_id, session_id=session_id))

    def spent_by(
        self, *, case_id: str | None, session_id: str | None
    ) -> tuple[Spend | None, Spend | None]:
        """The case's and the session's spend in one unit of work (a budget check on
        every model call reads both); None for the one not asked."""
        if case_id is None and session_id is None:
            return None, None
        with self._db.session() as session:
            totals = store.spent_by(session, case_id=case_id, session_id=session_id)
        by_case = None if case_id is None else _spend(totals[0])
        by_session = None if session_id is None else _spend(totals[1])
        return by_case, by_session

    # -- the one place a write may fail ------------------------------------------------------
    def _write(self, operation: str, ids: dict[str, str], work: Callable[[Session], None]) -> None:
        try:
            with self._db.session() as session:
                work(session)
        except Exception as exc:  # never the caller's problem; never the content either
            logger.warning(
                "history recording failed",
                extra={"operation": operation, "error_type": type(exc).__name__, **ids},
            )


def _spend(totals: store.SpendTotals) -> Spend:
    return Spend(
        tokens=totals.input_tokens
        + totals.output_tokens
        + totals.cache_creation_input_tokens
        + totals.cache_read_input_tokens,
        cost_usd=float(totals.cost_usd),
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cache_creation_input_tokens=totals.cache_creation_input_tokens,
        cache_read_input_tokens=totals.cache_read_input_tokens,
    )


def _record_ids(session_id: str, stage_execution_id: str | None) -> dict[str, str]:
    ids = {"session_id": session_id}
    if stage_execution_id is not None:
        ids["execution_id"] = stage_execution_id
    return ids


def _text(value: str | None, limit: int) -> str | None:
    """Redacted, then capped (redaction first: a cut must not split a secret into a
    piece the detectors no longer recognise)."""
    if value is None:
        return None
    cleaned = redact(value).text
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - len(_TRUNCATED)] + _TRUNCATED
    return cleaned


def _name(value: str, limit: int = MAX_NAME_CHARS) -> str:
    return value[:limit]


def _scrub(value: Any, depth: int = 0) -> Any:
    """Every string inside a JSON value redacted (keys too: a secret can be a key)."""
    if depth > 64:
        return _TRUNCATED
    if isinstance(value, str):
        return redact(value).text if value else value
    if isinstance(value, dict):
        return {str(_scrub(str(k), depth + 1)): _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value)).text


def _json(value: Any) -> Any:
    """Redacted and size-capped, for the free-form documents (outputs, tool data)."""
    return _capped_json(_scrub(value))


def _capped_json(value: Any) -> Any:
    """The value itself when it serializes within MAX_JSON_BYTES, else a marker saying
    how big it was (a history row must not outgrow what the API can return)."""
    encoded = json.dumps(value, default=str, ensure_ascii=False)
    if len(encoded.encode()) <= MAX_JSON_BYTES:
        return json.loads(encoded)
    return {"truncated": True, "size_bytes": len(encoded.encode())}
