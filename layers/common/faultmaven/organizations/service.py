"""Organizations and teams. Organization owners and admins manage members and teams; a
non-member sees neither (404)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from faultmaven.adapters.postgres import Database
from faultmaven.audit import store as audit
from faultmaven.auth import store as users
from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
)
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.db.tables import Membership, Organization, Team
from faultmaven.organizations.models import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationOut,
    OrgRole,
    Scopes,
    TeamCreate,
    TeamOut,
)

_MANAGERS = frozenset({OrgRole.OWNER.value, OrgRole.ADMIN.value})


class OrganizationService:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- queries other domains use -------------------------------------------------
    def scopes(self, user_id: str) -> Scopes:
        with self._db.session() as session:
            return scopes_in(session, user_id)

    # -- organizations ---------------------------------------------------------------
    def create(self, principal: Principal, body: OrganizationCreate) -> OrganizationOut:
        now = utcnow()
        with self._db.session() as session:
            org = Organization(
                org_id=new_id("org"), name=body.name, created_by=principal.user_id, created_at=now
            )
            session.add(org)
            session.flush()
            session.add(
                Membership(
                    membership_id=new_id("mem"),
                    user_id=principal.user_id,
                    org_id=org.org_id,
                    team_id=None,
                    role=OrgRole.OWNER.value,
                    created_at=now,
                )
            )
            audit.record(
                session,
                actor_id=principal.user_id,
                action="organization.created",
                object_type="organization",
                object_id=org.org_id,
            )
            return OrganizationOut.model_validate(org).model_copy(update={"my_role": OrgRole.OWNER})

    def list_mine(self, principal: Principal, page: PageRequest) -> Page[OrganizationOut]:
        with self._db.session() as session:
            base = (
                select(Organization, Membership.role)
                .join(Membership, Membership.org_id == Organization.org_id)
                .where(Membership.user_id == principal.user_id, Membership.team_id.is_(None))
            )
            total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = session.execute(
                base.order_by(Organization.created_at, Organization.org_id)
                .limit(page.page_size)
                .offset(page.offset)
            ).all()
            items = [
                OrganizationOut.model_validate(org).model_copy(update={"my_role": OrgRole(role)})
                for org, role in rows
            ]
        return Page[OrganizationOut].of(items, total, page)

    def get(self, principal: Principal, org_id: str) -> OrganizationOut:
        with self._db.session() as session:
            org, role = self._visible_org(session, principal, org_id)
            return OrganizationOut.model_validate(org).model_copy(update={"my_role": role})

    # -- members ---------------------------------------------------------------------
    def add_member(self, principal: Principal, org_id: str, body: MemberAdd) -> MemberOut:
        with self._db.session() as session:
            self._managed_org(session, principal, org_id)
            if users.live_user(session, body.user_id) is None:
                raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
            membership = _membership(session, body.user_id, org_id=org_id)
            if membership is None:
                membership = Membership(
                    membership_id=new_id("mem"),
                    user_id=body.user_id,
                    org_id=org_id,
                    team_id=None,
                    role=body.role.value,
                    created_at=utcnow(),
                )
                session.add(membership)
            else:
                membership.role = body.role.value
            audit.record(
                session,
                actor_id=principal.user_id,
                action="organization.member_set",
                object_type="organization",
                object_id=org_id,
                details={"user_id": body.user_id, "role": body.role.value},
            )
            session.flush()
            return MemberOut.model_validate(membership)

    def list_members(self, principal: Principal, org_id: str, page: PageRequest) -> Page[MemberOut]:
        with self._db.session() as session:
            self._visible_org(session, principal, org_id)
            base = select(Membership).where(Membership.org_id == org_id)
            total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = session.scalars(
                base.order_by(Membership.created_at, Membership.membership_id)
                .limit(page.page_size)
                .offset(page.offset)
            )
            return Page[MemberOut].of([MemberOut.model_validate(m) for m in rows], total, page)

    def remove_member(self, principal: Principal, org_id: str, user_id: str) -> None:
        with self._db.session() as session:
            self._managed_org(session, principal, org_id)
            memberships = list(
                session.scalars(
                    select(Membership).where(
                        Membership.org_id == org_id, Membership.user_id == user_id
                    )
                )
            )
            if not memberships:
                raise NotFoundError("Member not found", error_code="MEMBER_NOT_FOUND")
            owners = session.scalar(
                select(func.count()).where(
                    Membership.org_id == org_id,
                    Membership.team_id.is_(None),
                    Membership.role == OrgRole.OWNER.value,
                )
            )
            if owners == 1 and any(
                m.team_id is None and m.role == OrgRole.OWNER.value for m in memberships
            ):
                raise ConflictError(
                    "An organization keeps at least one owner", error_code="LAST_OWNER"
                )
            for membership in memberships:  # leaving the org leaves its teams too
                session.delete(membership)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="organization.member_removed",
                object_type="organization",
                object_id=org_id,
                details={"user_id": user_id},
            )

    # -- teams -----------------------------------------------------------------------
    def create_team(self, principal: Principal, org_id: str, body: TeamCreate) -> TeamOut:
        with self._db.session() as session:
            self._managed_org(session, principal, org_id)
            team = Team(team_id=new_id("team"), org_id=org_id, name=body.name, created_at=utcnow())
            session.add(team)
            try:
                session.flush()
            except IntegrityError:
                raise ConflictError(
                    "A team with this name already exists", error_code="TEAM_EXISTS"
                ) from None
            audit.record(
                session,
                actor_id=principal.user_id,
                action="team.created",
                object_type="team",
                object_id=team.team_id,
                details={"org_id": org_id},
            )
            return TeamOut.model_validate(team)

    def list_teams(self, principal: Principal, org_id: str, page: PageRequest) -> Page[TeamOut]:
        with self._db.session() as session:
            self._visible_org(session, principal, org_id)
            base = select(Team).where(Team.org_id == org_id)
            total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = session.scalars(
                base.order_by(Team.name, Team.team_id).limit(page.page_size).offset(page.offset)
            )
            return Page[TeamOut].of([TeamOut.model_validate(t) for t in rows], total, page)

    def add_team_member(self, principal: Principal, team_id: str, user_id: str) -> MemberOut:
        with self._db.session() as session:
            team = self._managed_team(session, principal, team_id)
            in_org = _membership(session, user_id, org_id=team.org_id)
            if in_org is None:
                raise ValidationFailedError(
                    "Only members of the organization can join its teams",
                    error_code="NOT_AN_ORG_MEMBER",
                )
            membership = _membership(session, user_id, team_id=team_id)
            if membership is None:
                membership = Membership(
                    membership_id=new_id("mem"),
                    user_id=user_id,
                    org_id=team.org_id,
                    team_id=team_id,
                    role=OrgRole.MEMBER.value,
                    created_at=utcnow(),
                )
                session.add(membership)
                audit.record(
                    session,
                    actor_id=principal.user_id,
                    action="team.member_added",
                    object_type="team",
                    object_id=team_id,
                    details={"user_id": user_id},
                )
                session.flush()
            return MemberOut.model_validate(membership)

    def remove_team_member(self, principal: Principal, team_id: str, user_id: str) -> None:
        with self._db.session() as session:
            self._managed_team(session, principal, team_id)
            membership = _membership(session, user_id, team_id=team_id)
            if membership is None:
                raise NotFoundError("Member not found", error_code="MEMBER_NOT_FOUND")
            session.delete(membership)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="team.member_removed",
                object_type="team",
                object_id=team_id,
                details={"user_id": user_id},
            )

    # -- access ----------------------------------------------------------------------
    def _visible_org(
        self, session: Session, principal: Principal, org_id: str
    ) -> tuple[Organization, OrgRole | None]:
        org = session.get(Organization, org_id) if looks_like_id(org_id, "org") else None
        if org is None:
            raise NotFoundError("Organization not found", error_code="ORGANIZATION_NOT_FOUND")
        membership = _membership(session, principal.user_id, org_id=org_id)
        if membership is None and not principal.is_admin:
            raise NotFoundError("Organization not found", error_code="ORGANIZATION_NOT_FOUND")
        return org, OrgRole(membership.role) if membership else None

    def _managed_org(self, session: Session, principal: Principal, org_id: str) -> Organization:
        org, role = self._visible_org(session, principal, org_id)  # 404 for non-members
        if principal.is_admin or (role is not None and role.value in _MANAGERS):
            return org
        raise ForbiddenError("Only organization owners and admins can do this")

    def _managed_team(self, session: Session, principal: Principal, team_id: str) -> Team:
        team = session.get(Team, team_id) if looks_like_id(team_id, "team") else None
        if team is None:
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND")
        try:
            self._managed_org(session, principal, team.org_id)
        except NotFoundError:
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND") from None
        return team


def _membership(
    session: Session, user_id: str, *, org_id: str | None = None, team_id: str | None = None
) -> Membership | None:
    """The user's membership of a team (by `team_id`) or of an organization itself."""
    query = select(Membership).where(Membership.user_id == user_id)
    if team_id is not None:
        query = query.where(Membership.team_id == team_id)
    else:
        query = query.where(Membership.org_id == org_id, Membership.team_id.is_(None))
    return session.scalars(query).first()


def scopes_in(session: Session, user_id: str) -> Scopes:
    rows = session.execute(
        select(Membership.org_id, Membership.team_id).where(Membership.user_id == user_id)
    ).all()
    return Scopes(
        org_ids=frozenset(org for org, _ in rows),
        team_ids=frozenset(team for _, team in rows if team is not None),
    )
