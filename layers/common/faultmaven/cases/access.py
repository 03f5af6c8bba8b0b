"""Who may do what to a case. Pure functions: the service feeds them facts from the
database, the tests feed them every combination.

viewer reads · collaborator reads and writes · owner and admin do everything ·
members of the case's team or organization read when it is shared that way · an
analyst reads every case and writes, shares or manages none it holds no stronger role
on · everyone else is told the case does not exist.
"""

from __future__ import annotations

from enum import IntEnum

from faultmaven.cases.models import ParticipantRole, Visibility
from faultmaven.core.errors import ForbiddenError, NotFoundError
from faultmaven.organizations.models import Scopes


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3


_BY_ROLE = {
    ParticipantRole.VIEWER: Access.READ,
    ParticipantRole.COLLABORATOR: Access.WRITE,
    ParticipantRole.OWNER: Access.MANAGE,
}


def effective_role(
    *,
    user_id: str,
    is_admin: bool,
    owner_id: str,
    participant_role: ParticipantRole | None,
    visibility: Visibility,
    team_id: str | None,
    org_id: str | None,
    scopes: Scopes | None,
    is_analyst: bool = False,
) -> ParticipantRole | None:
    """The strongest role the user holds on the case, or None when it is invisible."""
    if user_id == owner_id or is_admin or participant_role is ParticipantRole.OWNER:
        return ParticipantRole.OWNER
    if participant_role is not None:
        return participant_role
    if scopes is not None and (
        (visibility is Visibility.TEAM and team_id is not None and team_id in scopes.team_ids)
        or (
            visibility is Visibility.ORGANIZATION
            and org_id is not None
            and org_id in scopes.org_ids
        )
    ):
        return ParticipantRole.VIEWER
    if is_analyst:
        return ParticipantRole.VIEWER
    return None


def access_of(role: ParticipantRole | None) -> Access:
    return Access.NONE if role is None else _BY_ROLE[role]


def require(role: ParticipantRole | None, needed: Access) -> None:
    """404 when the caller cannot see the case at all; 403 when they can see it but not do
    this (a viewer editing learns nothing new from a 403)."""
    granted = access_of(role)
    if granted is Access.NONE:
        raise NotFoundError("Case not found", error_code="CASE_NOT_FOUND")
    if granted < needed:
        raise ForbiddenError(
            "Your role on this case does not allow this",
            error_code="INSUFFICIENT_CASE_ROLE",
            details={"role": role.value if role else None, "needed": needed.name.lower()},
        )
