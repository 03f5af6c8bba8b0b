"""/api/v1/cases/{case_id}/investigation: the investigation's state and the user's
consent. HTTP shape only; authorization is in the services."""

from __future__ import annotations

from fastapi import APIRouter

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.investigation.models import ConsentRequest, InvestigationOut

router = APIRouter(prefix="/api/v1/cases", tags=["investigation"], responses=ERROR_RESPONSES)


@router.get("/{case_id}/investigation", response_model=InvestigationOut)
def get_investigation(
    case_id: str, principal: PrincipalDep, container: ContainerDep
) -> InvestigationOut:
    """The case's investigation: phase 0 (intake, consultant mode) until consent."""
    return container.investigation.get(principal, case_id)


@router.post("/{case_id}/investigation/consent", response_model=InvestigationOut)
def consent(
    case_id: str, body: ConsentRequest, principal: PrincipalDep, container: ContainerDep
) -> InvestigationOut:
    """Let the agent lead: the investigation starts in phase 1 (blast radius) and the case
    moves to `investigating`. Consenting again changes nothing."""
    return container.investigation.consent(principal, case_id, body)
