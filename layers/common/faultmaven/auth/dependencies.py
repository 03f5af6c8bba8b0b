"""FastAPI dependencies every router shares: the container and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from faultmaven.auth.principal import Principal
from faultmaven.container import Container
from faultmaven.core.errors import UnauthorizedError
from faultmaven.protection.dependencies import admit_user

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


async def get_container(request: Request) -> Container:
    # async: trivial dependencies run on the event loop instead of a thread-pool hop.
    container: Container = request.app.state.container
    return container


def client_address(request: Request) -> str | None:
    """The caller's address: API Gateway's view of it on Lambda, the socket peer locally.
    X-Forwarded-For is not trusted: any client can write it."""
    event = request.scope.get("aws.event")
    if isinstance(event, dict):
        source = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        if isinstance(source, str):
            return source
    return request.client.host if request.client else None


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise UnauthorizedError("Authentication required")
    container: Container = request.app.state.container
    principal = container.tokens.principal(credentials.credentials)
    request.state.user_id = principal.user_id
    admit_user(request, principal.user_id)
    return principal


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
