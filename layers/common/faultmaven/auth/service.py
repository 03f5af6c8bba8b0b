"""Login, token refresh and revocation, and request authentication."""

from __future__ import annotations

from faultmaven.audit import service as audit
from faultmaven.auth import store
from faultmaven.auth.accounts import Accounts
from faultmaven.auth.models import (
    LoginRequest,
    Principal,
    RegisterRequest,
    Role,
    TokenPair,
    UserAdminUpdate,
    UserOut,
)
from faultmaven.auth.passwords import Passwords
from faultmaven.auth.principal import require_admin
from faultmaven.auth.throttle import LoginThrottle, account_key
from faultmaven.auth.tokens import TokenClaims, Tokens, TokenType
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from faultmaven.core.logging import logger
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database

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
        with self._db.session() as session:
            # The row stays locked until the tokens are issued, so a concurrent
            # deactivation either happens first (and is seen) or revokes these tokens.
            user = store.find_by_login(session, request.identifier, for_update=True)
            account = account_key(user.user_id if user else None, request.identifier)
            self._throttle.check(account, client_address)
            # Always verify, against a decoy hash when there is no such user.
            valid = self._passwords.verify(
                user.password_hash if user is not None else None, request.password
            )
            if user is None or not valid or not user.is_active:
                self._throttle.failed(account, client_address)
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
        self._throttle.succeeded(account)
        logger.info("user logged in", extra={"user_id": user.user_id})
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the refresh token is spent and a new pair issued. Replaying a spent
        refresh token is refused."""
        claims = self._tokens.decode(refresh_token, TokenType.REFRESH)
        with self._db.session() as session:
            user = store.live_user(session, claims.subject, for_update=True)
            if user is None or not user.is_active:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            if not self._tokens.revoke(claims):
                raise UnauthorizedError("The token has been revoked", error_code="TOKEN_REVOKED")
            return self._issue_pair(claims.subject, tuple(user.roles))

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

    # -- administration ----------------------------------------------------------------
    def list_users(
        self, principal: Principal, page: PageRequest, text: str | None
    ) -> Page[UserOut]:
        require_admin(principal)
        with self._db.session() as session:
            users, total = store.search(session, text, limit=page.page_size, offset=page.offset)
            return Page[UserOut].of([UserOut.model_validate(u) for u in users], total, page)

    def update_user(self, principal: Principal, user_id: str, body: UserAdminUpdate) -> UserOut:
        """Change roles or deactivate; every live token of the user is revoked, so the
        change applies to the very next request."""
        require_admin(principal)
        changes = body.model_dump(exclude_unset=True)
        if user_id == principal.user_id and (
            changes.get("is_active") is False
            or ("roles" in changes and Role.ADMIN not in changes["roles"])
        ):
            raise ConflictError(
                "Administrators cannot deactivate or demote themselves", error_code="SELF_LOCKOUT"
            )
        with self._db.session() as session:
            user = store.live_user(session, user_id, for_update=True)
            if user is None:
                raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
            if "roles" in changes:
                user.roles = sorted({Role.USER.value, *(Role(r).value for r in changes["roles"])})
            if "is_active" in changes:
                user.is_active = bool(changes["is_active"])
            user.updated_at = utcnow()
            audit.record(
                session,
                actor_id=principal.user_id,
                action="user.updated",
                object_type="user",
                object_id=user_id,
                details={"roles": user.roles, "is_active": user.is_active},
            )
            # Revoked before commit: if Redis fails, the change is rolled back with it.
            self._tokens.revoke_all(user_id)
            return UserOut.model_validate(user)

    def delete_user(self, principal: Principal, user_id: str) -> None:
        """Soft delete: the row stays for the audit trail, the email and username are free
        again, and every token dies."""
        require_admin(principal)
        if user_id == principal.user_id:
            raise ConflictError(
                "Administrators cannot delete themselves", error_code="SELF_LOCKOUT"
            )
        with self._db.session() as session:
            user = store.live_user(session, user_id, for_update=True)
            if user is None:
                raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
            user.deleted_at = user.updated_at = utcnow()
            user.is_active = False
            audit.record(
                session,
                actor_id=principal.user_id,
                action="user.deleted",
                object_type="user",
                object_id=user_id,
            )
            self._tokens.revoke_all(user_id)

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

    # -- a user leaving (see privacy.service) --------------------------------------------
    def confirm_password(self, principal: Principal, password: str) -> None:
        """Irreversible actions ask for the password again; the hash is checked outside
        any transaction, and a wrong password counts as a failed login."""
        with self._db.session() as session:
            user = store.live_user(session, principal.user_id)
            password_hash = user.password_hash if user is not None else None
        account = account_key(principal.user_id, principal.user_id)
        self._throttle.check(account, None)
        if user is None or not self._passwords.verify(password_hash, password):
            self._throttle.failed(account, None)
            raise ForbiddenError("The password is not correct", error_code="PASSWORD_INCORRECT")

    def active_user(self, user_id: str) -> UserOut | None:
        with self._db.session() as session:
            user = store.live_user(session, user_id)
            return UserOut.model_validate(user) if user is not None and user.is_active else None

    def deactivate_for_deletion(self, user_id: str, *, successor_id: str | None) -> None:
        """Stop the account now (no login, every token revoked) and mark it for erasing."""
        with self._db.session() as session:
            user = store.live_user(session, user_id, for_update=True)
            if user is None:
                return
            user.is_active = False
            user.deletion_requested_at = user.updated_at = utcnow()
            audit.record(
                session,
                actor_id=user_id,
                action="user.deletion_requested",
                object_type="user",
                object_id=user_id,
                details={"successor_id": successor_id},
            )
        self._tokens.revoke_all(user_id)

    def pending_deletion(self, user_id: str) -> bool:
        with self._db.session() as session:
            user = store.live_user(session, user_id)
            return user is not None and user.deletion_requested_at is not None

    def erase_account(self, user_id: str, *, details: dict[str, object]) -> None:
        """The account goes: the row stays only as an anonymous tombstone for the audit
        trail (no email, name or password left), and every token dies."""
        with self._db.session() as session:
            user = store.live_user(session, user_id, for_update=True)
            if user is None:
                return
            now = utcnow()
            user.email = f"deleted+{user_id}@invalid"
            user.username = f"deleted_{user_id}"
            user.display_name = "Deleted user"
            user.password_hash = "!"  # noqa: S105 - no Argon2 hash ever matches
            user.is_active = False
            user.deleted_at = user.updated_at = now
            audit.record(
                session,
                actor_id=user_id,
                action="user.account_deleted",
                object_type="user",
                object_id=user_id,
                details=details,
            )
        self._tokens.revoke_all(user_id)
