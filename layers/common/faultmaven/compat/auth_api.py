"""`/compat/faultmaven/api/v1/auth`: sign-in, registration, refresh and sign-out in the
shapes FaultMaven's clients send and read, over our auth and session services. Served by
the function that owns auth. HTTP shape only."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import ValidationError

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep, client_address
from faultmaven.auth.models import LoginRequest, RegisterRequest, TokenPair, UserOut
from faultmaven.auth.principal import Principal
from faultmaven.compat import PREFIX
from faultmaven.compat.models import (
    AuthConfig,
    AuthTokenResponse,
    CompatLogin,
    CompatRefresh,
    CompatSession,
    CompatUser,
    LogoutReply,
)
from faultmaven.container import Container
from faultmaven.core.errors import NotFoundError, UnauthorizedError
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.sessions.models import SessionCreate, SessionOut

router = APIRouter(prefix=PREFIX, tags=["auth"], responses=ERROR_RESPONSES)


def session_expired() -> UnauthorizedError:
    """The one 401 the extension recovers from (it opens a new session and retries);
    any other 401 signs its user out."""
    return UnauthorizedError("Session expired", error_code="SESSION_EXPIRED")


def current_session(
    principal: PrincipalDep,
    container: ContainerDep,
    x_session_id: Annotated[str, Header(max_length=128)] = "",
) -> SessionOut | None:
    """The session named by `X-Session-Id`, which must be live and the caller's own."""
    if not x_session_id:
        return None
    try:
        return container.sessions.get(principal, x_session_id)
    except NotFoundError:
        raise session_expired() from None


SessionDep = Annotated[SessionOut | None, Depends(current_session)]


def _user(user: UserOut) -> CompatUser:
    return CompatUser(
        user_id=user.user_id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        roles=[str(r) for r in user.roles],
        is_active=user.is_active,
        created_at=user.created_at,
    )


def to_session(session: SessionOut) -> CompatSession:
    return CompatSession(
        session_id=session.session_id,
        user_id=session.user_id,
        client_id=session.client_id,
        created_at=session.created_at,
        last_activity=session.last_activity_at,
        expires_at=session.expires_at,
        timeout_minutes=session.timeout_minutes,
        session_resumed=session.session_resumed,
        message="Session resumed" if session.session_resumed else "Session created",
        metadata=session.metadata,
    )


def _signed_in(container: Container, pair: TokenPair) -> AuthTokenResponse:
    """A token reply as the extension stores it: the user and a session come with it."""
    principal = container.tokens.principal(pair.access_token)
    session = container.sessions.create_or_resume(principal, SessionCreate())
    return AuthTokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        session_id=session.session_id,
        user=_user(container.auth.me(principal)),
    )


@router.get("/api/v1/auth/config", response_model=AuthConfig)
def auth_config() -> AuthConfig:
    """Local accounts: the extension signs in with a password and refreshes through
    `POST /auth/refresh`."""
    return AuthConfig(login_endpoint=PREFIX + "/api/v1/auth/login")


@router.post("/api/v1/auth/login", response_model=AuthTokenResponse)
def login(body: CompatLogin, request: Request, container: ContainerDep) -> AuthTokenResponse:
    identifier = body.username or body.email or ""
    by_email = "@" in identifier
    try:
        login = LoginRequest(
            email=identifier if by_email else None,
            username=None if by_email else identifier,
            password=body.password,
        )
    except ValidationError:
        # No account has such a name: the answer any wrong sign-in gets. (Imported here:
        # the service module brings SQLAlchemy's ORM into every function that checks a
        # session, which the other functions' cold starts do without.)
        from faultmaven.auth.service import INVALID_CREDENTIALS

        raise UnauthorizedError(INVALID_CREDENTIALS, error_code="INVALID_CREDENTIALS") from None
    pair = container.auth.login(login, client_address(request))
    return _signed_in(container, pair)


@router.post(
    "/api/v1/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthTokenResponse,
)
def register(body: RegisterRequest, request: Request, container: ContainerDep) -> AuthTokenResponse:
    """Register and sign in at once, as the extension expects of a register reply."""
    user = container.auth.register(body)
    pair = container.auth.login(
        LoginRequest(username=user.username, password=body.password), client_address(request)
    )
    return _signed_in(container, pair)


@router.post("/api/v1/auth/refresh", response_model=TokenPair)
def refresh(body: CompatRefresh, container: ContainerDep) -> TokenPair:
    return container.auth.refresh(body.refresh_token)


@router.post("/api/v1/auth/logout", response_model=LogoutReply)
def logout(
    principal: PrincipalDep,
    container: ContainerDep,
    x_session_id: Annotated[str, Header(max_length=128)] = "",
    body: CompatRefresh | None = None,
) -> LogoutReply:
    """Revoke the access token (and the refresh token when given) and end the session
    the call names. Other devices' sessions stay, and the reply says so."""
    container.auth.logout(principal, body.refresh_token if body else None)
    _end_quietly(container, principal, x_session_id)
    return LogoutReply(
        message="Signed out", all_sessions_ended=False, revoked_tokens=2 if body else 1
    )


def _end_quietly(container: Container, principal: Principal, session_id: str | None) -> None:
    if session_id:
        with contextlib.suppress(NotFoundError):
            container.sessions.end(principal, session_id)


@router.get("/api/v1/auth/me", response_model=CompatUser)
def me(principal: PrincipalDep, container: ContainerDep, _: SessionDep) -> CompatUser:
    return _user(container.auth.me(principal))
