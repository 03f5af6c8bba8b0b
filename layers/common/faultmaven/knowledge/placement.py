"""Where a document may be placed and with whom it may be shared: groups the caller
belongs to (an admin excepted), users who exist. Checked before anything is written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultmaven.auth.principal import Principal
from faultmaven.auth.queries import live_user
from faultmaven.core.errors import NotFoundError, ValidationFailedError
from faultmaven.core.vectors import Scope
from faultmaven.db.tables import KnowledgeDocument
from faultmaven.knowledge.base import optional_str
from faultmaven.knowledge.models import GranteeType, ShareCreate, Visibility
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.placement import PlacementError, Problem, resolve_placement
from faultmaven.organizations.queries import organization_exists, team_exists

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def placement(
    session: Session,
    principal: Principal,
    visibility: Visibility,
    team_id: str | None,
    org_id: str | None,
) -> tuple[str | None, str | None]:
    """The team and organization a document is placed in (the rule cases follow too)."""
    try:
        return resolve_placement(
            session,
            principal,
            team_id=team_id,
            org_id=org_id,
            needs_team=visibility is Visibility.TEAM,
            needs_org=visibility is Visibility.ORGANIZATION,
        )
    except PlacementError as refused:
        message, code = _REFUSALS[refused.problem]
        raise ValidationFailedError(message, error_code=code) from None


def place_move(
    session: Session,
    principal: Principal | None,
    document: KnowledgeDocument,
    draft: dict[str, object],
) -> None:
    """Check a change of a user document's visibility, team or organization, and place
    `draft` (the document as it will be) accordingly."""
    if document.scope != Scope.USER.value:
        raise ValidationFailedError(
            "Global documents have no visibility to change", error_code="VALIDATION_FAILED"
        )
    assert principal is not None
    narrowing = draft["visibility"] in (Visibility.PRIVATE.value, Visibility.SHARED.value) and (
        draft["team_id"],
        draft["org_id"],
    ) == (document.team_id, document.org_id)
    if not narrowing:  # an owner who left the team may still narrow it
        draft["team_id"], draft["org_id"] = placement(
            session,
            principal,
            Visibility(str(draft["visibility"])),
            optional_str(draft["team_id"]),
            optional_str(draft["org_id"]),
        )


_REFUSALS = {
    Problem.TEAM_NOT_MINE: ("You are not a member of this team", "TEAM_NOT_AVAILABLE"),
    Problem.TEAM_IN_OTHER_ORG: ("The team belongs to another organization", "VALIDATION_FAILED"),
    Problem.ORG_NOT_MINE: (
        "You are not a member of this organization",
        "ORGANIZATION_NOT_AVAILABLE",
    ),
    Problem.NEEDS_TEAM: ("team visibility needs a team_id", "VALIDATION_FAILED"),
    Problem.NEEDS_ORG: ("organization visibility needs an org_id", "VALIDATION_FAILED"),
}


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
        # A malformed id names nobody: 404, as for a deleted account.
        if live_user(session, body.grantee_id) is None:
            raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
        return
    # Sharing with a group is sharing with its members: only from inside the group.
    if body.grantee_type is GranteeType.TEAM:
        if not team_exists(session, body.grantee_id) or (
            body.grantee_id not in scopes.team_ids and not principal.is_admin
        ):
            raise NotFoundError("Team not found", error_code="TEAM_NOT_FOUND")
        return
    if not organization_exists(session, body.grantee_id) or (
        body.grantee_id not in scopes.org_ids and not principal.is_admin
    ):
        raise NotFoundError("Organization not found", error_code="ORGANIZATION_NOT_FOUND")
