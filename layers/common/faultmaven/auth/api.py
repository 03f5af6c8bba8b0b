"""/api/v1/auth: registration, login, token refresh, logout, the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep, client_address
from faultmaven.auth.models import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserAdminUpdate,
    UserOut,
)
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def register(body: RegisterRequest, container: ContainerDep) -> UserOut:
    return container.auth.register(body)


@router.post("/login", response_model=TokenPair)
def login(body: LoginRequest, request: Request, container: ContainerDep) -> TokenPair:
    return container.auth.login(body, client_address(request))


@router.post("/refresh", response_model=TokenPair)
def refresh(body: RefreshRequest, container: ContainerDep) -> TokenPair:
    return container.auth.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    principal: PrincipalDep,
    container: ContainerDep,
    body: LogoutRequest | None = Body(default=None),
) -> Response:
    container.auth.logout(principal, body.refresh_token if body else None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=Page[UserOut], summary="List users (admin)")
def list_users(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Annotated[PageRequest, Depends(page_params)],
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Page[UserOut]:
    return container.auth.list_users(principal, page, q)


@router.patch(
    "/users/{user_id}", response_model=UserOut, summary="Change roles or deactivate (admin)"
)
def update_user(
    user_id: str, body: UserAdminUpdate, principal: PrincipalDep, container: ContainerDep
) -> UserOut:
    return container.auth.update_user(principal, user_id, body)


@router.delete(
    "/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a user (admin)"
)
def delete_user(user_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.auth.delete_user(principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
def me(principal: PrincipalDep, container: ContainerDep) -> UserOut:
    return container.auth.me(principal)
