"""JWT access and refresh tokens, and their revocation.

The signing key comes from settings, or on AWS from Secrets Manager (read once, on first
use, so a cold start that never authenticates never pays for boto3). Revoked tokens sit in
a Redis denylist until they would have expired anyway; revoking every token of a user
(deactivation, role change) stores one "not issued before" mark per user. Checking both
is one Redis round trip, so authenticating a request needs no database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import jwt

from faultmaven.auth.principal import Principal, Role
from faultmaven.core.errors import UnauthorizedError
from faultmaven.core.ids import new_id
from faultmaven.core.ports import KeyValueStore

DENYLIST_PREFIX = "token_denylist:"
USER_REVOKED_PREFIX = "tokens_not_before:"


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
        denylist: KeyValueStore,
        *,
        algorithm: str,
        issuer: str,
        access_ttl: int,
        refresh_ttl: int,
    ) -> None:
        self._key = key
        self._denylist = denylist
        self._algorithm = algorithm
        self._issuer = issuer
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue(self, subject: str, token_type: TokenType, roles: tuple[str, ...] = ()) -> str:
        now = int(time.time())
        ttl = self.access_ttl if token_type is TokenType.ACCESS else self.refresh_ttl
        payload = {
            "sub": subject,
            "typ": token_type.value,
            "jti": new_id("tok"),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "iss": self._issuer,
            "roles": list(roles),
        }
        return jwt.encode(payload, self._key.get(), algorithm=self._algorithm)

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        """Validate signature, expiry, issuer, type and revocation, or raise 401."""
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
        claims = TokenClaims(
            subject=str(payload["sub"]),
            token_type=expected,
            token_id=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            roles=tuple(str(r) for r in payload.get("roles", [])),
        )
        revoked, not_before = self._denylist.get_many(
            [DENYLIST_PREFIX + claims.token_id, USER_REVOKED_PREFIX + claims.subject]
        )
        if revoked is not None or (not_before is not None and claims.issued_at < int(not_before)):
            raise UnauthorizedError("The token has been revoked", error_code="TOKEN_REVOKED")
        return claims

    def principal(self, access_token: str) -> Principal:
        """The caller behind an access token: signature, expiry and revocation only, no
        database. Deactivating a user or changing their roles revokes their tokens, so
        the roles in a live token are current."""
        claims = self.decode(access_token, TokenType.ACCESS)
        return Principal(
            user_id=claims.subject,
            roles=frozenset(Role(r) for r in claims.roles if r in Role.__members__.values()),
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
        )

    def revoke_all(self, user_id: str) -> None:
        """Refuse every token of the user issued up to now. `iat` has one-second
        resolution, so the mark is the next whole second."""
        self._denylist.put(
            USER_REVOKED_PREFIX + user_id,
            str(int(time.time()) + 1),
            max(self.access_ttl, self.refresh_ttl) + 60,
        )

    def revoke(self, claims: TokenClaims) -> bool:
        """Deny the token until it expires. False when it was already revoked, which lets a
        refresh be used exactly once even under concurrent requests."""
        remaining = max(1, claims.expires_at - int(time.time()) + 5)
        return self._denylist.put(
            DENYLIST_PREFIX + claims.token_id, "1", remaining, only_if_absent=True
        )
