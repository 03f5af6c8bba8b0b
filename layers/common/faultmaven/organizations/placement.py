"""Where a case or a document may be placed: a team or an organization the caller belongs
to (an admin may use any that exists), the organization implied by the team, and the one
its visibility needs. Cases and knowledge documents share the rule and word the refusal
their own way."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from faultmaven.auth.principal import Principal
from faultmaven.organizations import store
from faultmaven.organizations.models import Scopes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Problem(StrEnum):
    TEAM_NOT_MINE = "team_not_mine"
    TEAM_IN_OTHER_ORG = "team_in_other_org"
    ORG_NOT_MINE = "org_not_mine"
    NEEDS_TEAM = "needs_team"
    NEEDS_ORG = "needs_org"


class PlacementError(ValueError):
    def __init__(self, problem: Problem, field: str) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.field = field


def resolve_placement(
    session: Session,
    principal: Principal,
    *,
    team_id: str | None,
    org_id: str | None,
    needs_team: bool,
    needs_org: bool,
) -> tuple[str | None, str | None]:
    """The (team, organization) to store, or PlacementError naming the field."""
    scopes = store.scopes_in(session, principal.user_id) if (team_id or org_id) else Scopes()
    if team_id is not None:
        team = store.team(session, team_id)
        if team is None or (team_id not in scopes.team_ids and not principal.is_admin):
            raise PlacementError(Problem.TEAM_NOT_MINE, "team_id")
        if org_id is not None and org_id != team.org_id:
            raise PlacementError(Problem.TEAM_IN_OTHER_ORG, "org_id")
        org_id = team.org_id
    if org_id is not None and (
        store.organization(session, org_id) is None
        or (org_id not in scopes.org_ids and not principal.is_admin)
    ):
        raise PlacementError(Problem.ORG_NOT_MINE, "org_id")
    if needs_team and team_id is None:
        raise PlacementError(Problem.NEEDS_TEAM, "team_id")
    if needs_org and org_id is None:
        raise PlacementError(Problem.NEEDS_ORG, "org_id")
    return team_id, org_id
