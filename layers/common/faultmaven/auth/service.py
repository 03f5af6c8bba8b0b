"""Login, token refresh and revocation, and request authentication."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

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

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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
        """Read, release, verify, record. Argon2 takes tens of milliseconds and 64 MiB on
        purpose; holding a pooled connection and a row lock through it let ~50 parallel
        logins exhaust the pool and stall everyone else."""
        with self._db.session() as session:
            candidate = store.login_candidate(session, request.identifier)
            user_id = candidate.user_id if candidate else None
            seen_hash = candidate.password_hash if candidate else None
        account = account_key(user_id, request.identifier)
        self._throttle.check(account, client_address)
        # Always verify, against a decoy hash when there is no such user.
        valid = self._passwords.verify(seen_hash, request.password)
        if user_id is None or seen_hash is None or not valid:
            self._reject(account, client_address)
        rehashed = (
            self._passwords.hash(request.password)
            if self._passwords.needs_rehash(seen_hash)
            else None
        )
        with self._db.session() as session:
            # Locked only for this short write: a concurrent deactivation either happens
            # first (and is seen here) or marks these tokens revoked after us.
            user = store.live_user(session, user_id, for_update=True)
            if user is None or not user.is_active or user.password_hash != seen_hash:
                # Gone, deactivated, or the password changed while we verified.
                self._reject(account, client_address)
            if rehashed is not None:
                user.password_hash = rehashed
            user.last_login_at = utcnow()
            store.forget_expired_tokens(session, user.user_id, user.last_login_at)
            audit.record(
                session,
                actor_id=user.user_id,
                action="user.login",
                object_type="user",
                object_id=user.user_id,
            )
            pair = self._issue_pair(session, user.user_id, tuple(user.roles))
        self._throttle.succeeded(account, client_address)
        logger.info("user logged in", extra={"user_id": user_id})
        return pair

    def _reject(self, account: str, client_address: str | None) -> NoReturn:
        self._throttle.failed(account, client_address)
        logger.info("login rejected")
        raise UnauthorizedError(INVALID_CREDENTIALS, error_code="INVALID_CREDENTIALS")

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the refresh token is spent and a new pair issued. Spending is one
        conditional UPDATE in PostgreSQL, so a replayed (or concurrently reused) refresh
        token is refused whatever happened to the cache."""
        claims = self._tokens.decode(refresh_token, TokenType.REFRESH)
        with self._db.session() as session:
            user = store.live_user(session, claims.subject, for_update=True)
            if user is None or not user.is_active:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            revoked_before = user.tokens_not_before
            if (
                revoked_before is not None and claims.issued_at < revoked_before.timestamp()
            ) or not store.spend_refresh_token(session, claims.token_id, user.user_id, utcnow()):
                raise UnauthorizedError("The token has been revoked", error_code="TOKEN_REVOKED")
            return self._issue_pair(session, claims.subject, tuple(user.roles))

    def logout(self, principal: Principal, refresh_token: str | None) -> None:
        refresh: TokenClaims | None = None
        if refresh_token:
            try:
                refresh = self._tokens.decode(refresh_token, TokenType.REFRESH)
            except UnauthorizedError:
                refresh = None  # already expired or not ours to revoke: nothing to do
        with self._db.session() as session:
            self._tokens.revocations.revoke_access(
                session, principal.token_id, principal.user_id, principal.token_expires_at
            )
            if refresh is not None and refresh.subject == principal.user_id:
                store.spend_refresh_token(session, refresh.token_id, principal.user_id, utcnow())

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
            # Durable, and cached before commit: if Redis fails, the change is rolled
            # back with it (503) rather than applied without its revocation.
            self._tokens.revocations.revoke_all(session, user_id)
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
            self._tokens.revocations.revoke_all(session, user_id)

    def me(self, principal: Principal) -> UserOut:
        with self._db.session() as session:
            user = store.live_user(session, principal.user_id)
            if user is None:
                raise UnauthorizedError("The token is not valid", error_code="INVALID_TOKEN")
            return UserOut.model_validate(user)

    def _issue_pair(self, session: Session, user_id: str, roles: tuple[str, ...]) -> TokenPair:
        """Both tokens; the refresh token is recorded in the same transaction, so it is
        valid exactly when the login or rotation that made it committed."""
        refresh, claims = self._tokens.issue_with_claims(user_id, TokenType.REFRESH)
        store.record_refresh_token(
            session,
            claims.token_id,
            user_id,
            datetime.fromtimestamp(claims.issued_at, UTC),
            datetime.fromtimestamp(claims.expires_at, UTC),
        )
        return TokenPair(
            access_token=self._tokens.issue(user_id, TokenType.ACCESS, roles),
            expires_in=self._tokens.access_ttl,
            refresh_token=refresh,
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

    def principal_of(self, user_id: str, *, acting_as: str) -> Principal | None:
        """The user as background work acts for them (an investigation run, the linking
        of their upload): their roles as they are now, no token; None once the account
        is inactive, so work on behalf of a departed user stops. `acting_as` names the
        work (it stands where a token id would, in audit trails)."""
        user = self.active_user(user_id)
        if user is None:
            return None
        return Principal(
            user_id=user.user_id,
            roles=frozenset(user.roles),
            token_id=acting_as,
            token_expires_at=0,
        )

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
            self._tokens.revocations.revoke_all(session, user_id)

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
            self._tokens.revocations.revoke_all(session, user_id)
