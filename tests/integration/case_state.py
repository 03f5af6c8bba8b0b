"""A fingerprint of everything stored about a case, to prove a refused request wrote nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from faultmaven.container import Container
from faultmaven.db.tables import (
    AuditEvent,
    Case,
    CaseMessage,
    CaseParticipant,
    CaseStatusTransition,
    Hypothesis,
    Solution,
)


def fingerprint(container: Container, case_id: str) -> tuple[Any, ...]:
    with container.database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        counts = tuple(
            session.scalar(select(func.count()).select_from(model).where(model.case_id == case_id))
            for model in (
                CaseMessage,
                Hypothesis,
                Solution,
                CaseParticipant,
                CaseStatusTransition,
                AuditEvent,
            )
        )
        hypotheses = tuple(
            (h.statement, h.likelihood, len(h.supporting_evidence))
            for h in session.scalars(
                select(Hypothesis)
                .where(Hypothesis.case_id == case_id)
                .order_by(Hypothesis.hypothesis_id)
            )
        )
        solutions = tuple(
            (s.title, s.status)
            for s in session.scalars(
                select(Solution).where(Solution.case_id == case_id).order_by(Solution.solution_id)
            )
        )
        participants = tuple(
            (p.user_id, p.role)
            for p in session.scalars(
                select(CaseParticipant)
                .where(CaseParticipant.case_id == case_id)
                # Heap order is no contract: a row lock or a vacuum may change it.
                .order_by(CaseParticipant.user_id)
            )
        )
        return (
            case.title,
            case.status,
            case.priority,
            case.visibility,
            case.updated_at,
            case.deleted_at,
            counts,
            hypotheses,
            solutions,
            participants,
        )
