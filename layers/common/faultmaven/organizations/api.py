"""/api/v1/organizations and /api/v1/teams: the groups cases can be shared with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params
from faultmaven.organizations.models import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationOut,
    TeamCreate,
    TeamMemberAdd,
    TeamOut,
)

router = APIRouter(prefix="/api/v1", tags=["organizations"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]


@router.post("/organizations", status_code=status.HTTP_201_CREATED, response_model=OrganizationOut)
def create_organization(
    body: OrganizationCreate, principal: PrincipalDep, container: ContainerDep
) -> OrganizationOut:
    return container.organizations.create(principal, body)


@router.get("/organizations", response_model=Page[OrganizationOut])
def list_organizations(
    principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[OrganizationOut]:
    return container.organizations.list_mine(principal, page)


@router.get("/organizations/{org_id}", response_model=OrganizationOut)
def get_organization(
    org_id: str, principal: PrincipalDep, container: ContainerDep
) -> OrganizationOut:
    return container.organizations.get(principal, org_id)


@router.post(
    "/organizations/{org_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut
)
def set_member(
    org_id: str,
    body: MemberAdd,
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
) -> MemberOut:
    member, created = container.organizations.set_member(principal, org_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return member


@router.get("/organizations/{org_id}/members", response_model=Page[MemberOut])
def list_members(
    org_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[MemberOut]:
    return container.organizations.list_members(principal, org_id, page)


@router.delete("/organizations/{org_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    org_id: str, user_id: str, principal: PrincipalDep, container: ContainerDep
) -> Response:
    container.organizations.remove_member(principal, org_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/organizations/{org_id}/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut
)
def create_team(
    org_id: str, body: TeamCreate, principal: PrincipalDep, container: ContainerDep
) -> TeamOut:
    return container.organizations.create_team(principal, org_id, body)


@router.get("/organizations/{org_id}/teams", response_model=Page[TeamOut])
def list_teams(
    org_id: str, principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[TeamOut]:
    return container.organizations.list_teams(principal, org_id, page)


@router.post(
    "/teams/{team_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut
)
def add_team_member(
    team_id: str, body: TeamMemberAdd, principal: PrincipalDep, container: ContainerDep
) -> MemberOut:
    return container.organizations.add_team_member(principal, team_id, body.user_id)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_team_member(
    team_id: str, user_id: str, principal: PrincipalDep, container: ContainerDep
) -> Response:
    container.organizations.remove_team_member(principal, team_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
