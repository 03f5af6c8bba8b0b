"""Login, token refresh and revocation, and request authentication."""

from __future__ import annotations

from faultmaven.adapters.postgres import Database
from faultmaven.audit import store as audit
from faultmaven.auth import store
from faultmaven.auth.accounts import Accounts
from faultmaven.auth.models import (
    LoginRequest,
    Principal,
    RegisterRequest,
    Role,
    TokenPair,
    UserOut,
)
from faultmaven.auth.passwords import Passwords
from faultmaven.auth.throttle import LoginThrottle
from faultmaven.auth.tokens import TokenClaims, Tokens, TokenType
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import UnauthorizedError
from faultmaven.core.logging import logger

INVALID_CREDENTIALS = "Invalid credentials"


class AuthService:
    def __init__(
        self, database: Database, passwords: Passwords, tokens: Tokens, throttle: LoginThrottle
    ) -> None:
        self._db = database
        self._passwords = passwords
        self._tokens = tokens
        self._throttle = throttle
        self.accounts = Accounts(database, passwords)

    def register(self, request: RegisterRequest) -> UserOut:
        return self.accounts.register(request)

    def login(self, request: LoginRequest, client_address: str | None = None) -> TokenPair:
        self._throttle.check(request.identifier, client_address)
        with self._db.session() as session:
            user = store.find_by_login(session, request.identifier)
            # Always verify, against a decoy hash when there is no such user.
            valid = self._passwords.verify(
                user.password_hash if user is not None else None, request.password
            )
            if user is None or not valid or not user.is_active:
                self._throttle.failed(request.identifier, client_address)
                logger.info("login rejected")
                raise UnauthorizedError(INVALID_CREDENTIALS, error_code="INVALID_CREDENTIALS")
            if self._passwords.needs_rehash(user.password_hash):
                user.password_hash = self._passwords.hash(request.password)
            user.last_login_at = utcnow()
            audit.record(
                session,
                actor_id=user.user_id,
                action="user.login",
                object_type="user",
                object_id=user.user_id,
            )
            pair = self._issue_pair(user.user_id, tuple(user.roles))
        self._throttle.succeeded(request.identifier)
        logger.info("user logged in", extra={"user_id": user.user_id})
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the refresh token is spent and a new pair issued. Replaying a spent
        refresh token is refused."""
        claims = self._tokens.decode(refresh_token, TokenType.REFRESH)
        with self._db.session() as session:
            user = store.live_user(session, claims.subject)
            if user is None or not user.is_active:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            roles = tuple(user.roles)
        if not self._tokens.revoke(claims):
            raise UnauthorizedError("The token has been revoked", error_code="TOKEN_REVOKED")
        return self._issue_pair(claims.subject, roles)

    def logout(self, principal: Principal, refresh_token: str | None) -> None:
        self._tokens.revoke(
            TokenClaims(
                subject=principal.user_id,
                token_type=TokenType.ACCESS,
                token_id=principal.token_id,
                issued_at=0,
                expires_at=principal.token_expires_at,
                roles=(),
            )
        )
        if refresh_token:
            try:
                claims = self._tokens.decode(refresh_token, TokenType.REFRESH)
            except UnauthorizedError:
                return  # already expired or revoked: nothing left to revoke
            if claims.subject == principal.user_id:
                self._tokens.revoke(claims)

    def authenticate(self, access_token: str) -> Principal:
        claims = self._tokens.decode(access_token, TokenType.ACCESS)
        with self._db.session() as session:
            user = store.live_user(session, claims.subject)
            if user is None or not user.is_active:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            roles = frozenset(Role(r) for r in user.roles if r in Role.__members__.values())
        return Principal(
            user_id=claims.subject,
            roles=roles,
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
        )

    def me(self, principal: Principal) -> UserOut:
        with self._db.session() as session:
            user = store.live_user(session, principal.user_id)
            if user is None:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            return UserOut.model_validate(user)

    def _issue_pair(self, user_id: str, roles: tuple[str, ...]) -> TokenPair:
        return TokenPair(
            access_token=self._tokens.issue(user_id, TokenType.ACCESS, roles),
            expires_in=self._tokens.access_ttl,
            refresh_token=self._tokens.issue(user_id, TokenType.REFRESH),
            refresh_expires_in=self._tokens.refresh_ttl,
        )
