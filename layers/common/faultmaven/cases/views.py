"""A case as the API shows it: its row and the caller's role on it."""

from __future__ import annotations

from faultmaven.cases.models import CaseOut, ParticipantRole
from faultmaven.db.tables import Case


def case_out(case: Case, role: ParticipantRole | None) -> CaseOut:
    return CaseOut.model_validate(case).model_copy(update={"my_role": role})
