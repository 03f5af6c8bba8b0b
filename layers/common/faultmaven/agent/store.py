"""Persistence of the agent's per-case memory (one JSON row per case)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.core.clock import utcnow
from faultmaven.db.tables import AgentMemory


def load(session: Session, case_id: str) -> dict[str, Any] | None:
    row = session.get(AgentMemory, case_id)
    return None if row is None else dict(row.state)


def locked(session: Session, case_id: str) -> dict[str, Any] | None:
    """The memory row locked until the transaction ends, created empty if missing, so
    two turns of one case add to the memory one after the other."""
    session.execute(
        insert(AgentMemory)
        .values(case_id=case_id, turn=0, reserved_turn=0, state={}, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    row = session.scalars(
        select(AgentMemory).where(AgentMemory.case_id == case_id).with_for_update()
    ).one()
    return dict(row.state) if row.state else None


def reserve_turn(session: Session, case_id: str) -> int:
    """The next turn number of the case, atomically (a row lock held for one statement)."""
    session.execute(
        insert(AgentMemory)
        .values(case_id=case_id, turn=0, reserved_turn=0, state={}, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    number = session.scalar(
        update(AgentMemory)
        .where(AgentMemory.case_id == case_id)
        .values(reserved_turn=func.greatest(AgentMemory.reserved_turn, AgentMemory.turn) + 1)
        .returning(AgentMemory.reserved_turn)
    )
    return int(number or 1)


def turns_taken(session: Session, case_ids: list[str]) -> dict[str, int]:
    """The chat turns each case has had (cases without one are absent)."""
    rows = session.execute(
        select(
            AgentMemory.case_id, func.greatest(AgentMemory.reserved_turn, AgentMemory.turn)
        ).where(AgentMemory.case_id.in_(case_ids))
    ).all()
    return {case_id: int(turns) for case_id, turns in rows}


def save(session: Session, case_id: str, turn: int, state: dict[str, Any]) -> None:
    row = session.get(AgentMemory, case_id)
    assert row is not None, "save() follows locked() in the same transaction"
    row.turn = turn
    row.state = state
    row.updated_at = utcnow()


def delete(session: Session, case_id: str) -> int:
    row = session.get(AgentMemory, case_id)
    if row is None:
        return 0
    session.delete(row)
    return 1
