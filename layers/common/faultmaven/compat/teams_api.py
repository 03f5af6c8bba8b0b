"""`/compat/faultmaven/api/v1/teams`: the dashboard's team list, from the teams of every
organization the caller belongs to. Served by the function that owns organizations.
HTTP shape only."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import SessionDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import MAX_PAGE_SIZE, PageRequest

router = APIRouter(prefix=PREFIX + "/api/v1", tags=["organizations"], responses=ERROR_RESPONSES)


class CompatTeam(BaseModel):
    team_id: str
    name: str
    description: str | None = None
    enterprise_id: str
    organization_id: str
    created_at: datetime


@router.get("/teams", response_model=list[CompatTeam])
def list_teams(principal: PrincipalDep, container: ContainerDep, _: SessionDep) -> list[CompatTeam]:
    """A bare list, as the dashboard reads it (the first 100 organizations, 100 teams
    each)."""
    first = PageRequest(page=1, page_size=MAX_PAGE_SIZE)
    teams = []
    for org in container.organizations.list_mine(principal, first).items:
        for team in container.organizations.list_teams(principal, org.org_id, first).items:
            teams.append(
                CompatTeam(
                    team_id=team.team_id,
                    name=team.name,
                    enterprise_id=team.org_id,
                    organization_id=team.org_id,
                    created_at=team.created_at,
                )
            )
    return teams
