"""History persistence: the SQL behind the recorder (writes) and the service (reads)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern
from faultmaven.db.tables import (
    HistoryLLMInteraction,
    HistorySession,
    HistorySpend,
    HistoryStage,
    HistoryToolInteraction,
)

# -- writes (the recorder) -------------------------------------------------------------------


def insert_session(session: Session, values: dict[str, Any]) -> None:
    """Insert a session unless one with that id exists: opening twice (a retried step
    function task) keeps the first."""
    session.execute(insert(HistorySession).values(**values).on_conflict_do_nothing())


def update_session(session: Session, session_id: str, values: dict[str, Any]) -> None:
    session.execute(update(HistorySession).where(HistorySession.id == session_id).values(**values))


def stage_exists(session: Session, execution_id: str) -> bool:
    found = session.scalar(
        select(HistoryStage.execution_id).where(HistoryStage.execution_id == execution_id)
    )
    return found is not None


def session_metadata(session: Session, session_id: str) -> dict[str, Any] | None:
    return session.scalar(
        select(HistorySession.session_metadata).where(HistorySession.id == session_id)
    )


def next_stage_index(session: Session, session_id: str) -> int:
    last = session.scalar(
        select(func.max(HistoryStage.stage_index)).where(HistoryStage.session_id == session_id)
    )
    return 0 if last is None else int(last) + 1


def add(session: Session, row: Any, *, flush: bool = False) -> None:
    """`flush` writes the row now, so a later statement of the transaction sees it."""
    session.add(row)
    if flush:
        session.flush()


def update_stage(session: Session, execution_id: str, values: dict[str, Any]) -> None:
    session.execute(
        update(HistoryStage).where(HistoryStage.execution_id == execution_id).values(**values)
    )


@dataclass(frozen=True, slots=True)
class SpendTotals:
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float


def spent(session: Session, *, case_id: str | None, session_id: str | None) -> SpendTotals:
    """Tokens and cost of every LLM call recorded for a case (all its sessions), a
    session, or both at once (the session, if it belongs to the case)."""
    i = HistoryLLMInteraction
    query = select(
        func.coalesce(func.sum(i.input_tokens), 0),
        func.coalesce(func.sum(i.output_tokens), 0),
        func.coalesce(func.sum(i.cache_creation_input_tokens), 0),
        func.coalesce(func.sum(i.cache_read_input_tokens), 0),
        func.coalesce(func.sum(i.cost_usd), 0),
    )
    if session_id is not None:
        query = query.where(i.session_id == session_id)
    if case_id is not None:
        query = query.where(
            i.session_id.in_(select(HistorySession.id).where(HistorySession.case_id == case_id))
        )
    row = session.execute(query).one()
    return SpendTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]))


_INSERT_LLM = insert(cast(Table, HistoryLLMInteraction.__table__))


def insert_llm_interaction(session: Session, values: dict[str, Any]) -> None:
    # Parameters passed at execution, not baked into the statement: it compiles once.
    session.execute(_INSERT_LLM, values)


def add_spend(
    session: Session,
    session_id: str,
    *,
    case_id: str | None = None,
    input_tokens: int,
    output_tokens: int,
    cache_creation_input_tokens: int,
    cache_read_input_tokens: int,
    cost_usd: float,
) -> None:
    """Add one interaction's usage to its session's and its case's running totals."""
    amounts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cost_usd": cost_usd,
    }
    if case_id is None:
        case_id = session.scalar(
            select(HistorySession.case_id).where(HistorySession.id == session_id)
        )
    scopes = [f"session:{session_id}"] + ([f"case:{case_id}"] if case_id else [])
    session.execute(_ADD_SPEND, [{"scope": scope, **amounts} for scope in scopes])


def _add_spend_statement() -> Any:
    t = cast(Table, HistorySpend.__table__)
    statement = insert(t)
    names = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cost_usd",
    )
    return statement.on_conflict_do_update(
        index_elements=[t.c.scope],
        set_={name: t.c[name] + statement.excluded[name] for name in names},
    )


_ADD_SPEND = _add_spend_statement()


def spent_by(
    session: Session, *, case_id: str | None, session_id: str | None
) -> tuple[SpendTotals, SpendTotals]:
    """A case's and a session's running totals in one statement (every model call's
    budget check reads both)."""
    wanted = {
        scope: kind
        for scope, kind in ((f"case:{case_id}", 0), (f"session:{session_id}", 1))
        if not scope.endswith(":None")
    }
    found = [SpendTotals(0, 0, 0, 0, 0.0), SpendTotals(0, 0, 0, 0, 0.0)]
    for row in session.scalars(select(HistorySpend).where(HistorySpend.scope.in_(wanted))):
        found[wanted[row.scope]] = SpendTotals(
            int(row.input_tokens),
            int(row.output_tokens),
            int(row.cache_creation_input_tokens),
            int(row.cache_read_input_tokens),
            float(row.cost_usd),
        )
    return found[0], found[1]


def forget_spend(session: Session, *scopes: str) -> None:
    session.execute(delete(HistorySpend).where(HistorySpend.scope.in_(scopes)))


# -- reads (the service) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """The list filters; `case_ids` is a subquery of the cases the caller reads (None:
    every session, an administrator)."""

    visible_case_ids: Select[Any] | None
    case_id: str | None = None
    statuses: Collection[str] = ()
    agent_type: str | None = None
    alert_type: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    search: str | None = None


def _filtered(query: Select[Any], where: SessionFilter) -> Select[Any]:
    s = HistorySession
    if where.visible_case_ids is not None:
        query = query.where(s.case_id.in_(where.visible_case_ids))
    if where.case_id is not None:
        query = query.where(s.case_id == where.case_id)
    if where.statuses:
        query = query.where(s.status.in_(list(where.statuses)))
    if where.agent_type is not None:
        query = query.where(s.agent_type == where.agent_type)
    if where.alert_type is not None:
        query = query.where(s.alert_type == where.alert_type)
    if where.start_us is not None:
        query = query.where(s.started_at_us >= where.start_us)
    if where.end_us is not None:
        query = query.where(s.started_at_us <= where.end_us)
    if where.search:
        pattern = contains_pattern(where.search)
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape=LIKE_ESCAPE)
                    for column in (s.alert_type, s.agent_type, s.error_message, s.final_analysis)
                )
            )
        )
    return query


def page_of_sessions(
    session: Session, where: SessionFilter, *, limit: int, offset: int
) -> tuple[list[HistorySession], int]:
    """Newest first (ties by id), and the total."""
    query = _filtered(select(HistorySession), where)
    total = session.scalar(_filtered(select(func.count()).select_from(HistorySession), where)) or 0
    rows = session.scalars(
        query.order_by(HistorySession.started_at_us.desc(), HistorySession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def find_session(session: Session, session_id: str) -> HistorySession | None:
    return session.get(HistorySession, session_id)


@dataclass(frozen=True, slots=True)
class Counts:
    llm: int = 0
    tool: int = 0
    stages: int = 0
    completed_stages: int = 0
    failed_stages: int = 0


def counts(session: Session, session_ids: Sequence[str]) -> dict[str, Counts]:
    """Interaction and stage counts of each session, in three grouped queries."""
    if not session_ids:
        return {}
    ids = list(session_ids)
    llm: dict[str, int] = {}
    tool: dict[str, int] = {}
    for model, into in ((HistoryLLMInteraction, llm), (HistoryToolInteraction, tool)):
        for sid, count in session.execute(
            select(model.session_id, func.count())
            .where(model.session_id.in_(ids))
            .group_by(model.session_id)
        ).all():
            into[sid] = int(count)
    st = HistoryStage
    stages: dict[str, tuple[int, int, int]] = {}
    for sid, total, completed, failed in session.execute(
        select(
            st.session_id,
            func.count(),
            func.count().filter(st.status == "completed"),
            func.count().filter(st.status == "failed"),
        )
        .where(st.session_id.in_(ids))
        .group_by(st.session_id)
    ).all():
        stages[sid] = (int(total), int(completed), int(failed))
    return {
        sid: Counts(
            llm=llm.get(sid, 0),
            tool=tool.get(sid, 0),
            stages=stages.get(sid, (0, 0, 0))[0],
            completed_stages=stages.get(sid, (0, 0, 0))[1],
            failed_stages=stages.get(sid, (0, 0, 0))[2],
        )
        for sid in ids
    }


def stages_of(session: Session, session_id: str) -> list[HistoryStage]:
    return list(
        session.scalars(
            select(HistoryStage)
            .where(HistoryStage.session_id == session_id)
            .order_by(HistoryStage.stage_index, HistoryStage.started_at_us)
        )
    )


def llm_interactions_of(session: Session, session_id: str) -> list[HistoryLLMInteraction]:
    i = HistoryLLMInteraction
    return list(
        session.scalars(select(i).where(i.session_id == session_id).order_by(i.timestamp_us, i.id))
    )


def tool_interactions_of(session: Session, session_id: str) -> list[HistoryToolInteraction]:
    i = HistoryToolInteraction
    return list(
        session.scalars(select(i).where(i.session_id == session_id).order_by(i.timestamp_us, i.id))
    )


def distinct_values(session: Session, where: SessionFilter, column_name: str) -> list[str]:
    """The values of one column among the sessions `where` selects, sorted."""
    column = getattr(HistorySession, column_name)
    query = _filtered(select(column).distinct(), where).where(column.is_not(None))
    return sorted(str(v) for v in session.scalars(query))


# -- retention -------------------------------------------------------------------------------


def _age() -> Any:
    return func.coalesce(HistorySession.completed_at_us, HistorySession.started_at_us)


def finished_before(
    session: Session, cutoff_us: int, *, after: str | None, limit: int
) -> list[str]:
    """Up to `limit` ids (key order, after `after`) of sessions that completed, or started
    and never completed, at or before `cutoff_us`."""
    query = select(HistorySession.id).where(_age() <= cutoff_us)
    if after is not None:
        query = query.where(HistorySession.id > after)
    return list(session.scalars(query.order_by(HistorySession.id).limit(limit)))


def delete_finished_before(session: Session, session_ids: list[str], cutoff_us: int) -> int:
    """Delete those sessions (their stages and interactions go by CASCADE), re-checking
    the age so a session touched since it was listed stays."""
    if not session_ids:
        return 0
    result = session.execute(
        delete(HistorySession)
        .where(HistorySession.id.in_(session_ids), _age() <= cutoff_us)
        .returning(HistorySession.id)
    )
    gone = list(result.scalars())
    # A session's totals go with it; its case's stay, so the case's budget keeps counting.
    if gone:
        forget_spend(session, *(f"session:{sid}" for sid in gone))
    return len(gone)


# -- privacy ---------------------------------------------------------------------------------


def delete_sessions_of_case(session: Session, case_id: str) -> int:
    result = session.execute(
        delete(HistorySession).where(HistorySession.case_id == case_id).returning(HistorySession.id)
    )
    gone = list(result.scalars())
    forget_spend(session, f"case:{case_id}", *(f"session:{sid}" for sid in gone))
    return len(gone)


def clear_owner(session: Session, user_id: str) -> int:
    result = session.execute(
        update(HistorySession).where(HistorySession.owner_id == user_id).values(owner_id=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
