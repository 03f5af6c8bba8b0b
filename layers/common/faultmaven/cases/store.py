"""Case persistence: queries over cases and their child tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from faultmaven.cases.models import CasePriority, ParticipantRole, Visibility
from faultmaven.db.queries import page_of
from faultmaven.db.tables import (
    Case,
    CaseMessage,
    CaseParticipant,
    CaseStatusTransition,
    Hypothesis,
    Solution,
)
from faultmaven.organizations.models import Scopes

_PRIORITY_RANK = case(
    {p.value: rank for rank, p in enumerate(CasePriority)}, value=Case.priority, else_=-1
)
SORTABLE: dict[str, Any] = {
    "created_at": Case.created_at,
    "updated_at": Case.updated_at,
    "title": func.lower(Case.title),
    "priority": _PRIORITY_RANK,
    "status": Case.status,
}


def live_case(session: Session, case_id: str, *, lock: str | None = None) -> Case | None:
    """The case unless soft-deleted; `lock` is "update" (exclusive) or "share"."""
    query = select(Case).where(Case.case_id == case_id, Case.deleted_at.is_(None))
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    return session.scalars(query).first()


def participant_role(session: Session, case_id: str, user_id: str) -> ParticipantRole | None:
    role = session.scalar(
        select(CaseParticipant.role).where(
            CaseParticipant.case_id == case_id, CaseParticipant.user_id == user_id
        )
    )
    return ParticipantRole(role) if role else None


def participant_roles(
    session: Session, case_ids: Sequence[str], user_id: str
) -> dict[str, ParticipantRole]:
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseParticipant.case_id, CaseParticipant.role).where(
            CaseParticipant.case_id.in_(case_ids), CaseParticipant.user_id == user_id
        )
    )
    return {case_id: ParticipantRole(role) for case_id, role in rows}


def visible_cases_query(user_id: str, scopes: Scopes, relation: str) -> Select[Case]:
    """Cases the user can see, narrowed by `relation`: owned, shared (with me as a
    participant or through a team/organization), or all of those."""
    participates = select(CaseParticipant.case_id).where(CaseParticipant.user_id == user_id)
    owned = Case.owner_id == user_id
    via_team = (
        and_(Case.visibility == Visibility.TEAM.value, Case.team_id.in_(scopes.team_ids))
        if scopes.team_ids
        else false()
    )
    via_org = (
        and_(Case.visibility == Visibility.ORGANIZATION.value, Case.org_id.in_(scopes.org_ids))
        if scopes.org_ids
        else false()
    )
    shared = or_(Case.case_id.in_(participates), via_team, via_org)
    condition = {"owned": owned, "shared": and_(~owned, shared)}.get(relation, or_(owned, shared))
    return select(Case).where(Case.deleted_at.is_(None), condition)


def children(
    session: Session, model: type[Any], case_id: str, *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """A page of one child table of a case in creation order, with the total."""
    id_column = next(iter(model.__table__.primary_key.columns))
    query = select(model).where(model.case_id == case_id).order_by(model.created_at, id_column)
    return page_of(session, query, limit=limit, offset=offset)


def participants(
    session: Session, case_id: str, *, limit: int, offset: int
) -> tuple[list[CaseParticipant], int]:
    query = (
        select(CaseParticipant)
        .where(CaseParticipant.case_id == case_id)
        .order_by(CaseParticipant.added_at, CaseParticipant.user_id)
    )
    return page_of(session, query, limit=limit, offset=offset)


CHILD_MODELS = {
    "messages": CaseMessage,
    "hypotheses": Hypothesis,
    "solutions": Solution,
    "transitions": CaseStatusTransition,
}
