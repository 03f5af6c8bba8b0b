"""Organizations and teams: the groups a case can be made visible to.

Members see their organization; owners and admins manage members and teams; only owners
grant, change or remove ownership, and an organization always keeps one owner. Anyone
else is told the organization does not exist (404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultmaven.audit import service as audit
from faultmaven.auth import queries as users
from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
)
from faultmaven.core.ids import new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database
from faultmaven.db.tables import Membership, Organization, Team
from faultmaven.organizations import store
from faultmaven.organizations.models import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationOut,
    OrgRole,
    TeamCreate,
    TeamOut,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_MANAGERS = frozenset({OrgRole.OWNER, OrgRole.ADMIN})


class OrganizationService:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- organizations ---------------------------------------------------------------
    def create(self, principal: Principal, body: OrganizationCreate) -> OrganizationOut:
        now = utcnow()
        with self._db.session() as session:
            org = Organization(
                org_id=new_id("org"), name=body.name, created_by=principal.user_id, created_at=now
            )
            store.add(session, org)
            store.add(session, _new_membership(principal.user_id, org.org_id, None, OrgRole.OWNER))
            audit.record(
                session,
                actor_id=principal.user_id,
                action="organization.created",
                object_type="organization",
                object_id=org.org_id,
            )
            return _org_out(org, OrgRole.OWNER)

    def list_mine(self, principal: Principal, page: PageRequest) -> Page[OrganizationOut]:
        with self._db.session() as session:
            rows, total = store.page_of_organizations(
                session, principal.user_id, limit=page.page_size, offset=page.offset
            )
            items = [_org_out(org, OrgRole(role)) for org, role in rows]
        return Page[OrganizationOut].of(items, total, page)

    def get(self, principal: Principal, org_id: str) -> OrganizationOut:
        with self._db.session() as session:
            org, role = self._visible_org(session, principal, org_id)
            return _org_out(org, role)

    # -- members ---------------------------------------------------------------------
    def set_member(
        self, principal: Principal, org_id: str, body: MemberAdd
    ) -> tuple[MemberOut, bool]:
        """Add a member or change their role; the flag says whether they were new."""
        with self._db.session() as session:
            actor_role = self._managing_role(session, principal, org_id)
            if users.live_user(session, body.user_id) is None:
                raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
            membership = store.membership(session, body.user_id, org_id=org_id, for_update=True)
            current = OrgRole(membership.role) if membership else None
            if OrgRole.OWNER in {current, body.role} and actor_role is not OrgRole.OWNER:
                raise ForbiddenError(
                    "Only owners grant, change or remove ownership", error_code="OWNERS_ONLY"
                )
            if current is OrgRole.OWNER and body.role is not OrgRole.OWNER:
                _keep_an_owner(session, org_id, leaving=body.user_id)
            created = membership is None
            if membership is None:
                membership = _new_membership(body.user_id, org_id, None, body.role)
                store.add(session, membership)
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
            return MemberOut.model_validate(membership), created

    def list_members(self, principal: Principal, org_id: str, page: PageRequest) -> Page[MemberOut]:
        with self._db.session() as session:
            self._visible_org(session, principal, org_id)
            rows, total = store.page_of_members(
                session, org_id, limit=page.page_size, offset=page.offset
            )
            return Page[MemberOut].of([MemberOut.model_validate(m) for m in rows], total, page)

    def remove_member(self, principal: Principal, org_id: str, user_id: str) -> None:
        """Managers remove members (owners only remove owners); anyone may leave. The
        member leaves the organization's teams too."""
        with self._db.session() as session:
            if user_id == principal.user_id:
                self._visible_org(session, principal, org_id)
                actor_role: OrgRole | None = OrgRole.OWNER  # leaving needs no manager
            else:
                actor_role = self._managing_role(session, principal, org_id)
            target = store.membership(session, user_id, org_id=org_id, for_update=True)
            if target is None:
                raise NotFoundError("Member not found", error_code="MEMBER_NOT_FOUND")
            if target.role == OrgRole.OWNER.value:
                if actor_role is not OrgRole.OWNER:
                    raise ForbiddenError("Only owners remove owners", error_code="OWNERS_ONLY")
                _keep_an_owner(session, org_id, leaving=user_id)
            for membership in store.memberships_in_org(session, org_id, user_id):
                store.remove(session, membership)
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
            self._managing_role(session, principal, org_id)
            team = Team(team_id=new_id("team"), org_id=org_id, name=body.name, created_at=utcnow())
            if not store.add_team(session, team):
                raise ConflictError(
                    "A team with this name already exists", error_code="TEAM_EXISTS"
                )
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
            rows, total = store.page_of_teams(
                session, org_id, limit=page.page_size, offset=page.offset
            )
            return Page[TeamOut].of([TeamOut.model_validate(t) for t in rows], total, page)

    def add_team_member(self, principal: Principal, team_id: str, user_id: str) -> MemberOut:
        with self._db.session() as session:
            team = self._managed_team(session, principal, team_id)
            if store.membership(session, user_id, org_id=team.org_id) is None:
                raise ValidationFailedError(
                    "Only members of the organization can join its teams",
                    error_code="NOT_AN_ORG_MEMBER",
                )
            membership = store.membership(session, user_id, team_id=team_id)
            if membership is None:
                membership = _new_membership(user_id, team.org_id, team_id, OrgRole.MEMBER)
                store.add(session, membership)
                audit.record(
                    session,
                    actor_id=principal.user_id,
                    action="team.member_added",
                    object_type="team",
                    object_id=team_id,
                    details={"user_id": user_id},
                )
            return MemberOut.model_validate(membership)

    def remove_team_member(self, principal: Principal, team_id: str, user_id: str) -> None:
        with self._db.session() as session:
            self._managed_team(session, principal, team_id)
            membership = store.membership(session, user_id, team_id=team_id)
            if membership is None:
                raise NotFoundError("Member not found", error_code="MEMBER_NOT_FOUND")
            store.remove(session, membership)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="team.member_removed",
                object_type="team",
                object_id=team_id,
                details={"user_id": user_id},
            )

    # -- access ----------------------------------------------------------------------
    # -- a user leaving (see privacy.service) ------------------------------------------
    def solely_owned(self, user_id: str) -> list[str]:
        """Organizations of which the user is the only owner (they cannot be left
        without handing them over)."""
        with self._db.session() as session:
            org_ids = {
                m.org_id
                for m in store.memberships_of(session, user_id)
                if m.team_id is None and m.role == OrgRole.OWNER.value
            }
            return sorted(
                org_id
                for org_id in org_ids
                if not [o for o in store.lock_owners(session, org_id) if o != user_id]
            )

    def leave_all(self, user_id: str, *, successor_id: str | None) -> int:
        """Take the user out of every organization and team; an organization they alone
        own gets `successor_id` as its owner (the caller has checked there is one)."""
        with self._db.session() as session:
            memberships = store.memberships_of(session, user_id)
            for org_id in sorted({m.org_id for m in memberships if m.team_id is None}):
                others = [o for o in store.lock_owners(session, org_id) if o != user_id]
                if others:
                    continue
                if successor_id is None:
                    raise ConflictError(
                        "An organization keeps at least one owner", error_code="LAST_OWNER"
                    )
                heir = store.membership(session, successor_id, org_id=org_id, for_update=True)
                if heir is None:
                    store.add(session, _new_membership(successor_id, org_id, None, OrgRole.OWNER))
                else:
                    heir.role = OrgRole.OWNER.value
                audit.record(
                    session,
                    actor_id=user_id,
                    action="organization.member_set",
                    object_type="organization",
                    object_id=org_id,
                    details={"user_id": successor_id, "role": OrgRole.OWNER.value},
                )
            for membership in memberships:
                store.remove(session, membership)
            return len(memberships)

    def _visible_org(
        self, session: Session, principal: Principal, org_id: str
    ) -> tuple[Organization, OrgRole | None]:
        org = store.organization(session, org_id)
        membership = store.membership(session, principal.user_id, org_id=org_id) if org else None
        if org is None or (membership is None and not principal.is_admin):
            raise NotFoundError("Organization not found", error_code="ORGANIZATION_NOT_FOUND")
        return org, OrgRole(membership.role) if membership else None

    def _managing_role(self, session: Session, principal: Principal, org_id: str) -> OrgRole:
        """The caller's role if it may manage the organization (a platform admin acts as
        an owner); 404 for non-members, 403 for plain members."""
        _, role = self._visible_org(session, principal, org_id)
        if principal.is_admin:
            return OrgRole.OWNER
        if role in _MANAGERS:
            assert role is not None
            return role
        raise ForbiddenError("Only organization owners and admins can do this")

    def _managed_team(self, session: Session, principal: Principal, team_id: str) -> Team:
        team = store.team(session, team_id)
        if team is None:
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND")
        try:
            self._managing_role(session, principal, team.org_id)
        except NotFoundError:
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND") from None
        return team


def _keep_an_owner(session: Session, org_id: str, *, leaving: str) -> None:
    if not [owner for owner in store.lock_owners(session, org_id) if owner != leaving]:
        raise ConflictError("An organization keeps at least one owner", error_code="LAST_OWNER")


def _new_membership(user_id: str, org_id: str, team_id: str | None, role: OrgRole) -> Membership:
    return Membership(
        membership_id=new_id("mem"),
        user_id=user_id,
        org_id=org_id,
        team_id=team_id,
        role=role.value,
        created_at=utcnow(),
    )


def _org_out(org: Organization, role: OrgRole | None) -> OrganizationOut:
    return OrganizationOut.model_validate(org).model_copy(update={"my_role": role})
