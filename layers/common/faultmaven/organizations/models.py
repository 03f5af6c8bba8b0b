"""Organizations, teams and memberships: the groups a case can be made visible to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from faultmaven.core.models import Line, RequestModel


class OrgRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class OrganizationCreate(RequestModel):
    name: Line = Field(min_length=1, max_length=128)


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    org_id: str
    name: str
    created_by: str
    created_at: datetime
    my_role: OrgRole | None = None


class TeamCreate(RequestModel):
    name: Line = Field(min_length=1, max_length=128)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    team_id: str
    org_id: str
    name: str
    created_at: datetime


class MemberAdd(RequestModel):
    user_id: str = Field(min_length=1, max_length=40)
    role: OrgRole = OrgRole.MEMBER


class TeamMemberAdd(RequestModel):
    user_id: str = Field(min_length=1, max_length=40)


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: str
    org_id: str
    team_id: str | None
    role: OrgRole
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Scopes:
    """The organizations and teams a user belongs to."""

    org_ids: frozenset[str] = field(default_factory=frozenset)
    team_ids: frozenset[str] = field(default_factory=frozenset)
