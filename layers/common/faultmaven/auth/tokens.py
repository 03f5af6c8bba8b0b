"""JWT access and refresh tokens, and their revocation.

The signing key comes from settings, or on AWS from Secrets Manager (read once, on first
use, so a cold start that never authenticates never pays for boto3). Revocation is
durable (`auth/revocation.py`: PostgreSQL, cached in Redis): with a warm cache,
authenticating a request is one Redis round trip and no database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import jwt

from faultmaven.auth.principal import Principal, Role
from faultmaven.auth.revocation import Revocations
from faultmaven.core.errors import UnauthorizedError
from faultmaven.core.ids import new_id


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    token_type: TokenType
    token_id: str
    issued_at: int
    expires_at: int
    roles: tuple[str, ...]


class SigningKey:
    """The HMAC key, resolved lazily and at most once per process."""

    def __init__(self, load: Callable[[], str]) -> None:
        self._load = load
        self._value: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._load()
        return self._value


class Tokens:
    def __init__(
        self,
        key: SigningKey,
        revocations: Revocations,
        *,
        algorithm: str,
        issuer: str,
        access_ttl: int,
        refresh_ttl: int,
    ) -> None:
        self._key = key
        self.revocations = revocations
        self._algorithm = algorithm
        self._issuer = issuer
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue(self, subject: str, token_type: TokenType, roles: tuple[str, ...] = ()) -> str:
        return self.issue_with_claims(subject, token_type, roles)[0]

    def issue_with_claims(
        self, subject: str, token_type: TokenType, roles: tuple[str, ...] = ()
    ) -> tuple[str, TokenClaims]:
        """The token and what it says, for callers that record it (refresh tokens)."""
        now = int(time.time())
        ttl = self.access_ttl if token_type is TokenType.ACCESS else self.refresh_ttl
        claims = TokenClaims(
            subject=subject,
            token_type=token_type,
            token_id=new_id("tok"),
            issued_at=now,
            expires_at=now + ttl,
            roles=roles,
        )
        payload = {
            "sub": subject,
            "typ": token_type.value,
            "jti": claims.token_id,
            "iat": now,
            "nbf": now,
            "exp": claims.expires_at,
            "iss": self._issuer,
            "roles": list(roles),
        }
        return jwt.encode(payload, self._key.get(), algorithm=self._algorithm), claims

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        """Validate signature, expiry, issuer and type, or raise 401. Revocation is the
        caller's next check: `principal` for access tokens, the refresh-token row for
        refresh tokens."""
        try:
            payload = jwt.decode(
                token,
                self._key.get(),
                algorithms=[self._algorithm],
                issuer=self._issuer,
                options={"require": ["sub", "jti", "exp", "iat", "typ"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("The token has expired", error_code="TOKEN_EXPIRED") from None
        except jwt.PyJWTError:
            raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN") from None
        if payload.get("typ") != expected.value:
            raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
        return TokenClaims(
            subject=str(payload["sub"]),
            token_type=expected,
            token_id=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            roles=tuple(str(r) for r in payload.get("roles", [])),
        )

    def principal(self, access_token: str) -> Principal:
        """The caller behind an access token: signature, expiry and revocation (no
        database while the revocation cache is warm). Deactivating a user or changing
        their roles revokes their tokens, so the roles in a live token are current."""
        claims = self.decode(access_token, TokenType.ACCESS)
        if self.revocations.access_revoked(claims.token_id, claims.subject, claims.issued_at):
            raise UnauthorizedError("The token has been revoked", error_code="TOKEN_REVOKED")
        return Principal(
            user_id=claims.subject,
            roles=frozenset(Role(r) for r in claims.roles if r in Role.__members__.values()),
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
        )
