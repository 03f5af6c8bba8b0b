"""Investigations: the durable state of a case's investigation and the user's consent.

Every case is in phase 0 (intake, the agent as consultant) until its user consents;
consent creates the investigation in phase 1 (blast radius) with the agent as lead
investigator, and moves the case to `investigating`. The phase rules are in `phases.py`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from faultmaven.cases.access import Access
from faultmaven.cases.lifecycle import can_transition
from faultmaven.cases.models import CaseStatus, StatusChange
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError
from faultmaven.core.ids import new_id
from faultmaven.core.pagination import PageRequest
from faultmaven.investigation import store
from faultmaven.investigation.models import (
    ConsentRequest,
    InvestigationOut,
    PhaseRequirement,
    phase_name,
)
from faultmaven.investigation.phases import (
    EngagementMode,
    HypothesisFacts,
    Phase,
    PhaseFacts,
    Strategy,
    exit_criteria,
)
from faultmaven.preprocessing.redact import redact

if TYPE_CHECKING:
    from faultmaven.auth.principal import Principal
    from faultmaven.cases.models import CaseOut
    from faultmaven.cases.service import CaseService
    from faultmaven.core.ports import Database
    from faultmaven.db.tables import Investigation


class InvestigationService:
    def __init__(self, database: Database, cases: CaseService) -> None:
        self._db = database
        self._cases = cases

    def get(self, principal: Principal, case_id: str) -> InvestigationOut:
        case = self._cases.get(principal, case_id)
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            return self._out(principal, case, row)

    def forget_case(self, case_id: str) -> int:
        """A deleted case takes its investigation along."""
        with self._db.session() as session:
            return store.delete_of_case(session, case_id)

    def lifecycle_of(self, case_id: str) -> tuple[Phase, EngagementMode, Strategy, str]:
        """Phase, mode, strategy and status, for a caller that already authorized the
        case (the agent's turn): intake in consultant mode until consent."""
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            if row is None:
                return Phase.INTAKE, EngagementMode.CONSULTANT, Strategy.ACTIVE_INCIDENT, "intake"
            return (
                Phase(row.phase),
                EngagementMode(row.engagement_mode),
                Strategy(row.strategy),
                row.status,
            )

    def consent(self, principal: Principal, case_id: str, body: ConsentRequest) -> InvestigationOut:
        """Idempotent: consenting again returns the investigation as it is."""
        self._cases.require_access(principal, case_id, Access.WRITE, open_case=True)
        case = self._cases.get(principal, case_id)
        status = case.status
        if status is not CaseStatus.INVESTIGATING and not can_transition(
            status, CaseStatus.INVESTIGATING
        ):
            raise ConflictError(
                f"A {status.value} case cannot be investigated",
                error_code="INVESTIGATION_NOT_ALLOWED",
                details={"status": status.value},
            )
        now = utcnow()
        # Stored text carries no secret, whoever typed it.
        statement = redact(body.problem_statement or case.description or case.title).text
        with self._db.session() as session:
            store.create(
                session,
                {
                    "investigation_id": new_id("inv"),
                    "case_id": case_id,
                    "phase": int(Phase.BLAST_RADIUS),
                    "engagement_mode": EngagementMode.LEAD_INVESTIGATOR.value,
                    "strategy": body.strategy.value,
                    "status": "investigating",
                    "problem_statement": statement,
                    "state": {"iterations": [], "stall_count": 0, "anchored_on": None},
                    "consented_by": principal.user_id,
                    "consented_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if status is not CaseStatus.INVESTIGATING:
            case = self._cases.change_status(
                principal,
                case_id,
                StatusChange(status=CaseStatus.INVESTIGATING, reason="consent to investigate"),
            )
        with self._db.session() as session:
            return self._out(principal, case, store.of_case(session, case_id))

    def _out(
        self, principal: Principal, case: CaseOut, row: Investigation | None
    ) -> InvestigationOut:
        hypotheses = self._cases.hypotheses(
            principal, case.case_id, PageRequest(page=1, page_size=100)
        ).items
        phase = Phase(row.phase) if row is not None else Phase.INTAKE
        facts = PhaseFacts(
            consented=row is not None,
            problem_statement=row.problem_statement if row is not None else None,
            hypotheses=tuple(
                HypothesisFacts(h.hypothesis_id, h.status.value, h.category.value, h.likelihood)
                for h in hypotheses
            ),
        )
        state = dict(row.state) if row is not None else {}
        return InvestigationOut(
            investigation_id=row.investigation_id if row is not None else None,
            case_id=case.case_id,
            phase=int(phase),
            phase_name=phase_name(phase),
            engagement_mode=EngagementMode(row.engagement_mode)
            if row is not None
            else EngagementMode.CONSULTANT,
            strategy=Strategy(row.strategy) if row is not None else Strategy.ACTIVE_INCIDENT,
            status=row.status if row is not None else "intake",
            problem_statement=row.problem_statement if row is not None else "",
            consented_by=row.consented_by if row is not None else None,
            consented_at=row.consented_at if row is not None else None,
            ooda={
                "iterations": state.get("iterations", []),
                "stall_count": state.get("stall_count", 0),
                "anchored_on": state.get("anchored_on"),
            },
            hypotheses=dict(Counter(h.status.value for h in hypotheses)),
            requirements=PhaseRequirement(
                phase=int(phase),
                phase_name=phase_name(phase),
                missing=list(exit_criteria(phase, facts).missing),
            ),
            created_at=row.created_at if row is not None else None,
            updated_at=row.updated_at if row is not None else None,
        )
