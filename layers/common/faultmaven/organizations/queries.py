"""What other domains may ask about organizations and teams inside their own
transaction: the caller's memberships (for access checks), and whether a group exists
(for shares). The SQL is in `organizations.store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultmaven.organizations import store
from faultmaven.organizations.models import Scopes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def scopes_in(session: Session, user_id: str) -> Scopes:
    """The organizations and teams the user belongs to."""
    return store.scopes_in(session, user_id)


def team_exists(session: Session, team_id: str) -> bool:
    return store.team(session, team_id) is not None


def organization_exists(session: Session, org_id: str) -> bool:
    return store.organization(session, org_id) is not None
