"""The authenticated caller and the roles a user can hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"
    ANALYST = "analyst"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: str
    roles: frozenset[Role]
    token_id: str
    token_expires_at: int

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_analyst(self) -> bool:
        """Reads every case (reviews, trends, audits) and changes none."""
        return Role.ANALYST in self.roles


class PrincipalOf(Protocol):
    """`AuthService.principal_of`: the user as background work acts for them (a turn
    finished in the background, an alert's case), None once the account is inactive."""

    def __call__(self, user_id: str, *, acting_as: str) -> Principal | None: ...


def require_admin(principal: Principal) -> None:
    from faultmaven.core.errors import ForbiddenError

    if not principal.is_admin:
        raise ForbiddenError("Administrators only", error_code="ADMIN_ONLY")
