"""Accounts: registration and the administrator bootstrap. Separate from token handling
so the CLI can create an admin with nothing but the database."""

from __future__ import annotations

from faultmaven.audit import service as audit
from faultmaven.auth import store
from faultmaven.auth.models import RegisterRequest, Role, UserOut
from faultmaven.auth.passwords import Passwords, check_strength
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError
from faultmaven.core.ids import new_id
from faultmaven.core.logging import logger
from faultmaven.core.ports import Database
from faultmaven.db.tables import User


class Accounts:
    def __init__(self, database: Database, passwords: Passwords) -> None:
        self._db = database
        self._passwords = passwords

    def register(self, request: RegisterRequest, roles: tuple[Role, ...] = (Role.USER,)) -> UserOut:
        email = str(request.email)
        check_strength(
            request.password,
            user_inputs=[email, email.split("@")[0], request.username, request.display_name or ""],
        )
        password_hash = self._passwords.hash(request.password)
        now = utcnow()
        with self._db.session() as session:
            taken = store.taken_fields(session, email, request.username)
            if taken:
                raise ConflictError(
                    f"A user with this {' and '.join(taken)} already exists",
                    error_code="USER_EXISTS",
                    details={"fields": taken},
                )
            user = User(
                user_id=new_id("usr"),
                email=email,
                username=request.username,
                display_name=request.display_name or request.username,
                password_hash=password_hash,
                roles=[role.value for role in roles],
                is_active=True,
                is_verified=False,
                created_at=now,
                updated_at=now,
                password_changed_at=now,
            )
            if not store.add_user(session, user):
                # Two registrations raced past the check; the unique index decided.
                raise ConflictError(
                    "A user with this email or username already exists", error_code="USER_EXISTS"
                )
            audit.record(
                session,
                actor_id=user.user_id,
                action="user.registered",
                object_type="user",
                object_id=user.user_id,
                details={"roles": user.roles},
            )
            result = UserOut.model_validate(user)
        logger.info("user registered", extra={"user_id": result.user_id})
        return result

    def promote_to_admin(self, email: str) -> UserOut | None:
        """Make the live account with this email an administrator; None when there is
        none. Takes effect at the user's next login (existing tokens carry fewer roles,
        never more)."""
        with self._db.session() as session:
            user = store.find_by_login(session, email, for_update=True)
            if user is None or "@" not in email:
                return None
            if Role.ADMIN.value not in user.roles:
                user.roles = sorted({*user.roles, Role.ADMIN.value})
                user.updated_at = utcnow()
                audit.record(
                    session,
                    actor_id=None,
                    action="user.promoted_admin",
                    object_type="user",
                    object_id=user.user_id,
                )
            return UserOut.model_validate(user)

    def create_admin(self, request: RegisterRequest) -> UserOut:
        """A new account with the admin role (the password passes the usual checks)."""
        return self.register(request, roles=(Role.USER, Role.ADMIN))
