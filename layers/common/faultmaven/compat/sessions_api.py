"""`/compat/faultmaven`: reaching the backend (capabilities) and the sessions of
FaultMaven's clients, over our session service. Served by the function that owns sessions
and health. HTTP shape only."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.compat import PREFIX
from faultmaven.compat.auth_api import session_expired, to_session
from faultmaven.compat.errors import problems
from faultmaven.compat.models import (
    Capabilities,
    CompatSession,
    CompatSessionCreate,
    Features,
    Limits,
)
from faultmaven.core.errors import NotFoundError, ValidationFailedError
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.sessions.models import SessionCreate

router = APIRouter(prefix=PREFIX, tags=["sessions"], responses=ERROR_RESPONSES)
# A synchronous Lambda request carries at most 6 MB, and API Gateway hands a multipart
# body to Lambda base64-encoded (4/3 of its size): 4.4 MB of body at most, of which the
# form's framing and text fields take their share.
TURN_MAX_FILE_BYTES = 4 * 1024 * 1024
# What the evidence pipeline extracts as text.
ALLOWED_EXTENSIONS = [".log", ".txt", ".json", ".jsonl", ".csv", ".md", ".yaml", ".yml"]
API_GATEWAY_SECONDS = 29


@router.get(
    "/v1/meta/capabilities",
    response_model=Capabilities,
    summary="Capabilities (the options page's probe)",
)
@router.get("/api/v1/meta/capabilities", response_model=Capabilities)
def capabilities(request: Request, container: ContainerDep) -> Capabilities:
    """What this deployment is and its real limits (no sign-in needed)."""
    settings = container.settings
    return Capabilities(
        dashboardUrl=str(request.base_url).rstrip("/") + PREFIX,
        features=Features(),
        limits=Limits(
            maxFileBytes=min(TURN_MAX_FILE_BYTES, settings.max_upload_bytes),
            allowedExtensions=ALLOWED_EXTENSIONS,
            turnCeilingSeconds=API_GATEWAY_SECONDS,
            turnResponseBoundSeconds=max(30, API_GATEWAY_SECONDS),
        ),
    )


@router.post(
    "/api/v1/sessions",
    response_model=CompatSession,
    status_code=status.HTTP_201_CREATED,
)
def create_session(
    principal: PrincipalDep,
    container: ContainerDep,
    response: Response,
    body: CompatSessionCreate | None = None,
) -> CompatSession:
    """Create or resume (the same `client_id` resumes its live session)."""
    request = body or CompatSessionCreate()
    try:
        wanted = SessionCreate(
            client_id=request.client_id,
            timeout_minutes=request.timeout_minutes,
            metadata={**(request.metadata or {}), "session_type": request.session_type},
        )
    except ValidationError as exc:  # the client's metadata and its session type, together
        raise ValidationFailedError("The session is not valid", details=problems(exc)) from None
    session = container.sessions.create_or_resume(
        principal,
        wanted,
    )
    if session.session_resumed:
        response.status_code = status.HTTP_200_OK
    return to_session(session)


@router.get("/api/v1/sessions/{session_id}", response_model=CompatSession)
def get_session(session_id: str, principal: PrincipalDep, container: ContainerDep) -> CompatSession:
    return to_session(container.sessions.get(principal, session_id))


@router.post("/api/v1/sessions/{session_id}/heartbeat", response_model=CompatSession)
def heartbeat(session_id: str, principal: PrincipalDep, container: ContainerDep) -> CompatSession:
    try:
        return to_session(container.sessions.heartbeat(principal, session_id))
    except NotFoundError:
        raise session_expired() from None
