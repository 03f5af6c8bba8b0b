"""Where a document may be placed and with whom it may be shared: groups the caller
belongs to (an admin excepted), users who exist. Checked before anything is written."""

from __future__ import annotations

from sqlalchemy.orm import Session

from faultmaven.auth.principal import Principal
from faultmaven.core.errors import NotFoundError, ValidationFailedError
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge import store as kb
from faultmaven.knowledge.models import GranteeType, ShareCreate, Visibility
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.store import organization, scopes_in


def placement(
    session: Session,
    principal: Principal,
    visibility: Visibility,
    team_id: str | None,
    org_id: str | None,
) -> tuple[str | None, str | None]:
    """The team and organization a document is placed in: ones the caller belongs to,
    the organization implied by the team, and one required by team/organization
    visibility."""
    scopes = scopes_in(session, principal.user_id)
    if team_id is not None:
        team = kb.team(session, team_id)
        if team is None or (team_id not in scopes.team_ids and not principal.is_admin):
            raise ValidationFailedError(
                "You are not a member of this team", error_code="TEAM_NOT_AVAILABLE"
            )
        if org_id is not None and org_id != team.org_id:
            raise ValidationFailedError(
                "The team belongs to another organization", error_code="VALIDATION_FAILED"
            )
        org_id = team.org_id
    if org_id is not None and (
        organization(session, org_id) is None
        or (org_id not in scopes.org_ids and not principal.is_admin)
    ):
        raise ValidationFailedError(
            "You are not a member of this organization", error_code="ORGANIZATION_NOT_AVAILABLE"
        )
    if visibility is Visibility.TEAM and team_id is None:
        raise ValidationFailedError(
            "team visibility needs a team_id", error_code="VALIDATION_FAILED"
        )
    if visibility is Visibility.ORGANIZATION and org_id is None:
        raise ValidationFailedError(
            "organization visibility needs an org_id", error_code="VALIDATION_FAILED"
        )
    return team_id, org_id


def check_grantee(
    session: Session,
    principal: Principal,
    scopes: Scopes,
    document: KnowledgeDocument,
    body: ShareCreate,
) -> None:
    if body.grantee_type is GranteeType.USER:
        if body.grantee_id == document.owner_id:
            raise ValidationFailedError(
                "The owner already has every permission", error_code="VALIDATION_FAILED"
            )
        if kb.live_user(session, body.grantee_id) is None:
            raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
        return
    # Sharing with a group is sharing with its members: only from inside the group.
    if body.grantee_type is GranteeType.TEAM:
        if kb.team(session, body.grantee_id) is None or (
            body.grantee_id not in scopes.team_ids and not principal.is_admin
        ):
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND")
        return
    if organization(session, body.grantee_id) is None or (
        body.grantee_id not in scopes.org_ids and not principal.is_admin
    ):
        raise NotFoundError("Organization not found", error_code="ORGANIZATION_NOT_FOUND")
