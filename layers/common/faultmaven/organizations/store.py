"""Organizations, teams and memberships in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from faultmaven.core.ids import looks_like_id
from faultmaven.db.queries import page_of
from faultmaven.db.tables import Membership, Organization, Team
from faultmaven.organizations.models import OrgRole, Scopes


def organization(session: Session, org_id: str) -> Organization | None:
    return session.get(Organization, org_id) if looks_like_id(org_id, "org") else None


def team(session: Session, team_id: str) -> Team | None:
    return session.get(Team, team_id) if looks_like_id(team_id, "team") else None


def membership(
    session: Session,
    user_id: str,
    *,
    org_id: str | None = None,
    team_id: str | None = None,
    for_update: bool = False,
) -> Membership | None:
    """The user's membership of a team (by `team_id`) or of an organization itself."""
    query = select(Membership).where(Membership.user_id == user_id)
    if team_id is not None:
        query = query.where(Membership.team_id == team_id)
    else:
        query = query.where(Membership.org_id == org_id, Membership.team_id.is_(None))
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def memberships_in_org(session: Session, org_id: str, user_id: str) -> list[Membership]:
    """The user's membership of the organization and of each of its teams."""
    query = select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    return list(session.scalars(query))


def lock_owners(session: Session, org_id: str) -> list[str]:
    """The owners' user ids, locked: two requests demoting the last two owners at once
    must not both succeed."""
    query = (
        select(Membership)
        .where(
            Membership.org_id == org_id,
            Membership.team_id.is_(None),
            Membership.role == OrgRole.OWNER.value,
        )
        .with_for_update()
    )
    return [m.user_id for m in session.scalars(query)]


def organizations_of(user_id: str) -> Select[Organization, str]:
    return (
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.org_id)
        .where(Membership.user_id == user_id, Membership.team_id.is_(None))
        .order_by(Organization.created_at, Organization.org_id)
    )


def members_of(org_id: str) -> Select[Membership]:
    return (
        select(Membership)
        .where(Membership.org_id == org_id)
        .order_by(Membership.created_at, Membership.membership_id)
    )


def teams_of(org_id: str) -> Select[Team]:
    return select(Team).where(Team.org_id == org_id).order_by(Team.name, Team.team_id)


def count_organizations_of(session: Session, user_id: str) -> int:
    query = select(func.count()).where(Membership.user_id == user_id, Membership.team_id.is_(None))
    return session.scalar(query) or 0


def scopes_in(session: Session, user_id: str) -> Scopes:
    rows = session.execute(
        select(Membership.org_id, Membership.team_id).where(Membership.user_id == user_id)
    ).all()
    return Scopes(
        org_ids=frozenset(org for org, _ in rows),
        team_ids=frozenset(team for _, team in rows if team is not None),
    )


# -- writes and pages the service decides on ----------------------------------------------
def add(session: Session, row: Organization | Team | Membership) -> None:
    """Insert now (flushed): a membership needs its organization's row first."""
    session.add(row)
    session.flush()


def add_team(session: Session, team: Team) -> bool:
    """Insert a team; False when its organization already has a team of that name (the
    unique constraint decides, so two racing creations cannot both succeed)."""
    try:
        with session.begin_nested():
            session.add(team)
            session.flush()
    except IntegrityError:
        return False
    return True


def remove(session: Session, membership: Membership) -> None:
    session.delete(membership)


def page_of_organizations(
    session: Session, user_id: str, *, limit: int, offset: int
) -> tuple[list[tuple[Organization, str]], int]:
    """The user's organizations with their role in each, and how many there are."""
    rows = session.execute(organizations_of(user_id).limit(limit).offset(offset)).all()
    return [(org, role) for org, role in rows], count_organizations_of(session, user_id)


def page_of_members(
    session: Session, org_id: str, *, limit: int, offset: int
) -> tuple[list[Membership], int]:
    return page_of(session, members_of(org_id), limit=limit, offset=offset)


def page_of_teams(
    session: Session, org_id: str, *, limit: int, offset: int
) -> tuple[list[Team], int]:
    return page_of(session, teams_of(org_id), limit=limit, offset=offset)


def memberships_of(session: Session, user_id: str) -> list[Membership]:
    """Every membership of the user (organizations and teams)."""
    return list(session.scalars(select(Membership).where(Membership.user_id == user_id)))
