"""Auth API models. `Principal` and `Role` live in `principal.py` so that code which only
authenticates does not import the registration models (and email-validator)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from faultmaven.auth.principal import Principal, Role
from faultmaven.core.models import Line, PatchModel, RequestModel, StrictBool

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
# The longest password accepted anywhere (registration, login, the admin CLI): room for
# passphrases and password managers (NIST SP 800-63B asks for at least 64), and a bound on
# what a stranger can make Argon2 hash. Strength is judged on its first
# `passwords.STRENGTH_CHECKED_CHARS` characters.
MAX_PASSWORD_CHARS = 128


class RegisterRequest(RequestModel):
    email: EmailStr = Field(max_length=320)
    username: str = Field(pattern=USERNAME_PATTERN, description="3-64 letters, digits, . _ -")
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_CHARS, repr=False)
    display_name: Line | None = Field(default=None, min_length=1, max_length=128)


class LoginRequest(RequestModel):
    """Log in with either the email or the username, never both."""

    email: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS, repr=False)

    @model_validator(mode="after")
    def _one_identifier(self) -> Self:
        if (self.email is None) == (self.username is None):
            raise ValueError("give exactly one of email or username")
        return self

    @property
    def identifier(self) -> str:
        return self.email if self.email is not None else str(self.username)


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=4096, repr=False)


class LogoutRequest(RequestModel):
    refresh_token: str | None = Field(default=None, max_length=4096, repr=False)


class UserAdminUpdate(PatchModel):
    """What an administrator may change about a user. `user` is always kept."""

    roles: list[Role] | None = Field(default=None, min_length=1, max_length=3)
    is_active: StrictBool | None = None


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int


class UserOut(BaseModel):
    """A user as the API shows it: never the password hash."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    email: str
    username: str
    display_name: str
    roles: list[Role]
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        return [role for role in value if role in Role.__members__.values()]


__all__ = [
    "LoginRequest",
    "LogoutRequest",
    "Principal",
    "RefreshRequest",
    "RegisterRequest",
    "Role",
    "TokenPair",
    "UserAdminUpdate",
    "UserOut",
]
