"""Case persistence: queries over cases and their child tables."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session

from faultmaven.audit import service as audit
from faultmaven.cases import lifecycle
from faultmaven.cases.models import CasePriority, CaseStatus, ParticipantRole, Visibility
from faultmaven.core.ids import new_id
from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern, page_of
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
    """The case unless soft-deleted. `lock` is "update" (exclusive), "write" (FOR NO KEY
    UPDATE: the transaction will change the row's columns, but children may still be
    added to the case by others) or "share".

    A transaction that will write the row must take "write" up front: two that both hold
    "share" and then update the row wait for each other, and PostgreSQL kills one."""
    query = select(Case).where(Case.case_id == case_id, Case.deleted_at.is_(None))
    if lock == "write":
        query = query.with_for_update(key_share=True)
    elif lock is not None:
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


def visible_cases_query(
    user_id: str, scopes: Scopes, relation: str, *, sees_all: bool = False
) -> Select[Case]:
    """Cases the user can see, narrowed by `relation`: owned, shared (with me as a
    participant or through a team/organization), or all of those. `sees_all` (an
    analyst) counts every other live case as shared."""
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
    shared = true() if sees_all else or_(Case.case_id.in_(participates), via_team, via_org)
    condition = {"owned": owned, "shared": and_(~owned, shared)}.get(relation, or_(owned, shared))
    return select(Case).where(Case.deleted_at.is_(None), condition)


def visible_case_ids(user_id: str, scopes: Scopes, *, sees_all: bool = False) -> Select[Any]:
    """The ids of every live case the user can see, as a subquery other domains filter
    their own rows by (history sessions), so visibility has one definition."""
    return visible_cases_query(user_id, scopes, "all", sees_all=sees_all).with_only_columns(
        Case.case_id
    )


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


def record_transition(
    session: Session,
    case: Case,
    target: CaseStatus,
    *,
    actor_id: str | None,
    reason: str,
    now: datetime,
) -> None:
    """Move a case to `target` and keep its trail exactly as a move through the API does:
    the timestamps, a `case_status_transitions` row and the audit event, all in the
    caller's transaction. `actor_id` None is the system (retention). The caller has
    locked the row and checked `lifecycle.can_transition`."""
    current = case.status
    case.status = target.value
    case.status_changed_at = case.updated_at = now
    if target is CaseStatus.RESOLVED:
        case.resolved_at = now
    elif target is CaseStatus.INVESTIGATING:
        case.resolved_at = None  # reopened
    if target in lifecycle.CLOSED:
        case.closed_at = now
    session.add(
        CaseStatusTransition(
            transition_id=new_id("cst"),
            case_id=case.case_id,
            from_status=current,
            to_status=target.value,
            changed_by=actor_id,
            reason=reason,
            created_at=now,
        )
    )
    audit.record(
        session,
        actor_id=actor_id,
        action="case.status_changed",
        object_type="case",
        object_id=case.case_id,
        case_id=case.case_id,
        details={"from": current, "to": target.value, "reason": reason},
    )


# -- retention: bounded batches in key order, so a sweep resumes where it stopped --------
def in_status_since(
    session: Session,
    statuses: Collection[CaseStatus],
    changed_before: datetime,
    *,
    after: str | None,
    limit: int,
) -> list[str]:
    """Up to `limit` ids of live cases in one of `statuses` whose last status move was
    at or before `changed_before`, after the id `after`."""
    query = select(Case.case_id).where(
        Case.deleted_at.is_(None),
        Case.status.in_([s.value for s in statuses]),
        Case.status_changed_at <= changed_before,
    )
    if after is not None:
        query = query.where(Case.case_id > after)
    return list(session.scalars(query.order_by(Case.case_id).limit(limit)))


def lock_live(session: Session, case_ids: Sequence[str]) -> list[Case]:
    """Those live cases, locked for update until the transaction ends (a concurrent
    status move waits, then sees the new state)."""
    if not case_ids:
        return []
    query = (
        select(Case)
        .where(Case.case_id.in_(case_ids), Case.deleted_at.is_(None))
        .order_by(Case.case_id)
        .with_for_update()
    )
    return list(session.scalars(query))


def closed_before(
    session: Session,
    case_ids: Sequence[str],
    statuses: Collection[CaseStatus],
    cutoff: datetime,
    *,
    lock: bool = False,
) -> list[str]:
    """Those of `case_ids` in one of `statuses` that closed at or before `cutoff`: closing
    is resolving, or archiving a case that never was resolved. `lock` share-locks them,
    so a reopen cannot slip between this check and what the caller does next."""
    if not case_ids:
        return []
    closed_at = func.coalesce(Case.resolved_at, Case.closed_at)
    query = (
        select(Case.case_id)
        .where(
            Case.case_id.in_(case_ids),
            Case.status.in_([s.value for s in statuses]),
            closed_at <= cutoff,
        )
        .order_by(Case.case_id)
    )
    if lock:
        query = query.with_for_update(read=True)
    return list(session.scalars(query))


# -- writes and lookups the service decides on --------------------------------------------
def add(
    session: Session, row: Case | CaseMessage | Hypothesis | Solution | CaseParticipant
) -> None:
    """Insert a new case or child row now (flushed), so defaults and keys are visible to
    the answer built from it."""
    session.add(row)
    session.flush()


def child(session: Session, model: type[Any], child_id: str, *, for_update: bool = False) -> Any:
    """A hypothesis or solution by id; `for_update` locks it until the transaction ends."""
    return session.get(model, child_id, with_for_update=for_update)


def participant(session: Session, case_id: str, user_id: str) -> CaseParticipant | None:
    return session.get(CaseParticipant, (case_id, user_id))


def remove_participant(session: Session, participant: CaseParticipant) -> None:
    session.delete(participant)


def page_of_visible(
    session: Session,
    user_id: str,
    scopes: Scopes,
    *,
    sees_all: bool = False,
    relation: str,
    status: CaseStatus | frozenset[CaseStatus] | None,
    priority: CasePriority | None,
    text: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Case], int]:
    """One page of the cases `user_id` can see, filtered and sorted (`sort` is a key of
    SORTABLE, `-` first for descending; ties broken by id), and the total."""
    query = visible_cases_query(user_id, scopes, relation, sees_all=sees_all)
    if isinstance(status, frozenset):
        query = query.where(Case.status.in_(sorted(s.value for s in status)))
    elif status is not None:
        query = query.where(Case.status == status.value)
    if priority is not None:
        query = query.where(Case.priority == priority.value)
    if text:
        query = query.where(Case.title.ilike(contains_pattern(text), escape=LIKE_ESCAPE))
    column = SORTABLE[sort.lstrip("-")]
    ordered = query.order_by(column.desc() if sort.startswith("-") else column.asc(), Case.case_id)
    return page_of(session, ordered, limit=limit, offset=offset)


# -- a user exporting their data or leaving -------------------------------------------------
def owned_cases(session: Session, user_id: str, *, for_update: bool = False) -> list[Case]:
    """Every live case `user_id` owns (as creator), oldest first."""
    query = (
        select(Case)
        .where(Case.owner_id == user_id, Case.deleted_at.is_(None))
        .order_by(Case.created_at, Case.case_id)
    )
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def all_children(session: Session, model: type[Any], case_id: str) -> list[Any]:
    """Every row of one child table of a case, in creation order."""
    id_column = next(iter(model.__table__.primary_key.columns))
    query = select(model).where(model.case_id == case_id).order_by(model.created_at, id_column)
    return list(session.scalars(query))


def with_participants(session: Session, case_ids: Sequence[str]) -> set[str]:
    if not case_ids:
        return set()
    return set(
        session.scalars(
            select(CaseParticipant.case_id).where(CaseParticipant.case_id.in_(case_ids))
        )
    )


def participations(session: Session, user_id: str) -> list[CaseParticipant]:
    return list(session.scalars(select(CaseParticipant).where(CaseParticipant.user_id == user_id)))


def count_children(session: Session, model: type[Any], case_id: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.case_id == case_id)) or 0
    )


def newest_children(session: Session, model: type[Any], case_id: str, *, limit: int) -> list[Any]:
    """The newest `limit` rows of one child table, oldest first."""
    id_column = next(iter(model.__table__.primary_key.columns))
    rows = session.scalars(
        select(model)
        .where(model.case_id == case_id)
        .order_by(model.created_at.desc(), id_column.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def search_messages(
    session: Session, case_id: str, terms: Sequence[str], *, limit: int
) -> list[CaseMessage]:
    """Messages of a case holding any of `terms` (case-insensitive), those holding the
    most terms first, then the newest."""
    if not terms:
        return []
    matches = [CaseMessage.content.ilike(contains_pattern(t), escape=LIKE_ESCAPE) for t in terms]
    score = sum((case((m, 1), else_=0) for m in matches), start=case((false(), 1), else_=0))
    query = (
        select(CaseMessage)
        .where(CaseMessage.case_id == case_id, or_(*matches))
        .order_by(score.desc(), CaseMessage.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())
