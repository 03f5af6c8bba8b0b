"""Who may do what to a knowledge document, and the reader tokens that say the same thing
to the vector store. Pure functions: the service feeds them facts from the database; the
tests check, over every combination, that the two answers never disagree.

Global articles: everyone reads, admins write. User documents: the owner (and an admin)
manages; a share grants read or write to a user, every member of a team or of an
organization; team / organization visibility lets every member of the document's team or
organization read. A private document has no shares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from faultmaven.core.errors import ForbiddenError, NotFoundError
from faultmaven.core.vectors import EVERYONE, Scope, org_token, team_token, user_token
from faultmaven.knowledge.models import GranteeType, Permission, Visibility
from faultmaven.organizations.models import Scopes


class DocumentAccess(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3


@dataclass(frozen=True, slots=True)
class Grant:
    grantee_type: GranteeType
    grantee_id: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    scope: Scope
    owner_id: str | None  # None only for seeded global articles
    visibility: Visibility
    team_id: str | None
    org_id: str | None
    grants: tuple[Grant, ...] = ()


def caller_tokens(user_id: str, scopes: Scopes) -> frozenset[str]:
    """Every token the caller holds; a search admits chunks sharing one of them."""
    return frozenset(
        {user_token(user_id), EVERYONE}
        | {team_token(t) for t in scopes.team_ids}
        | {org_token(o) for o in scopes.org_ids}
    )


def grant_token(grant: Grant) -> str:
    if grant.grantee_type is GranteeType.USER:
        return user_token(grant.grantee_id)
    if grant.grantee_type is GranteeType.TEAM:
        return team_token(grant.grantee_id)
    return org_token(grant.grantee_id)


def readers_of(facts: DocumentFacts) -> frozenset[str]:
    """The tokens stored with every chunk of the document."""
    if facts.scope is Scope.GLOBAL:
        return frozenset({EVERYONE})
    readers = {user_token(facts.owner_id)} if facts.owner_id else set()
    if facts.visibility is Visibility.PRIVATE:
        return frozenset(readers)
    readers |= {grant_token(g) for g in facts.grants}
    if facts.visibility is Visibility.TEAM and facts.team_id is not None:
        readers.add(team_token(facts.team_id))
    if facts.visibility is Visibility.ORGANIZATION and facts.org_id is not None:
        readers.add(org_token(facts.org_id))
    return frozenset(readers)


def access_of(user_id: str, is_admin: bool, scopes: Scopes, facts: DocumentFacts) -> DocumentAccess:
    if facts.scope is Scope.GLOBAL:
        return DocumentAccess.MANAGE if is_admin else DocumentAccess.READ
    if user_id == facts.owner_id or is_admin:
        return DocumentAccess.MANAGE
    if facts.visibility is Visibility.PRIVATE:
        return DocumentAccess.NONE
    best = DocumentAccess.NONE
    mine = caller_tokens(user_id, scopes)
    for grant in facts.grants:
        if grant_token(grant) in mine:
            granted = (
                DocumentAccess.WRITE
                if grant.permission is Permission.WRITE
                else DocumentAccess.READ
            )
            best = max(best, granted)
    if (facts.visibility is Visibility.TEAM and facts.team_id in scopes.team_ids) or (
        facts.visibility is Visibility.ORGANIZATION and facts.org_id in scopes.org_ids
    ):
        best = max(best, DocumentAccess.READ)
    return best


def require(access: DocumentAccess, needed: DocumentAccess) -> None:
    """404 when the caller cannot see the document at all, 403 when they can but may
    not do this."""
    if access is DocumentAccess.NONE:
        raise NotFoundError("Document not found", error_code="DOCUMENT_NOT_FOUND")
    if access < needed:
        raise ForbiddenError(
            "Your permission on this document does not allow this",
            error_code="INSUFFICIENT_DOCUMENT_PERMISSION",
            details={"permission": access.name.lower(), "needed": needed.name.lower()},
        )


def grants(rows: Iterable[tuple[str, str, str]]) -> tuple[Grant, ...]:
    return tuple(
        Grant(GranteeType(kind), grantee, Permission(permission))
        for kind, grantee, permission in rows
    )
