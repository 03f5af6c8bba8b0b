"""What the case domain does when a user exports their data or leaves (see
`privacy.service`): their cases as plain data, which of them others can see, handing
those to a successor, deleting the rest, and leaving the cases they joined."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faultmaven.audit import service as audit
from faultmaven.cases import store
from faultmaven.cases.events import CaseDeleted
from faultmaven.cases.models import (
    HypothesisOut,
    MessageOut,
    ParticipantRole,
    SolutionOut,
    StatusTransitionOut,
    Visibility,
)
from faultmaven.cases.views import case_out
from faultmaven.core.clock import utcnow
from faultmaven.core.events import Events
from faultmaven.core.ports import Database


class CaseOwners:
    _db: Database
    _events: Events

    # -- a user exporting their data or leaving (see privacy.service) ------------------
    def export_owned(self, user_id: str) -> Sequence[dict[str, Any]]:
        """The user's own cases with everything inside them, as plain data."""
        with self._db.session() as session:
            bundles = []
            for case in store.owned_cases(session, user_id):
                children = {
                    kind: [
                        out.model_validate(row).model_dump(mode="json")
                        for row in store.all_children(
                            session, store.CHILD_MODELS[kind], case.case_id
                        )
                    ]
                    for kind, out in (
                        ("messages", MessageOut),
                        ("hypotheses", HypothesisOut),
                        ("solutions", SolutionOut),
                        ("transitions", StatusTransitionOut),
                    )
                }
                bundles.append(
                    {
                        "case": case_out(case, ParticipantRole.OWNER).model_dump(mode="json"),
                        **children,
                    }
                )
            return bundles

    def owned_split(self, user_id: str) -> tuple[Sequence[str], Sequence[str]]:
        """The user's live cases that others can read (participants, team or
        organization visibility) and those only the user reads."""
        with self._db.session() as session:
            cases = store.owned_cases(session, user_id)
            joined = store.with_participants(session, [c.case_id for c in cases])
        shared = [
            c.case_id
            for c in cases
            if c.visibility != Visibility.PRIVATE.value or c.case_id in joined
        ]
        taken = set(shared)
        return shared, [c.case_id for c in cases if c.case_id not in taken]

    def hand_over(self, user_id: str, successor_id: str, case_ids: Sequence[str]) -> int:
        """Make `successor_id` the owner of these cases of the user's; the successor's
        own participant row becomes redundant and goes."""
        wanted = set(case_ids)
        moved = 0
        with self._db.session() as session:
            for case in store.owned_cases(session, user_id, for_update=True):
                if case.case_id not in wanted:
                    continue
                case.owner_id = successor_id
                case.updated_at = utcnow()
                existing = store.participant(session, case.case_id, successor_id)
                if existing is not None:
                    store.remove_participant(session, existing)
                audit.record(
                    session,
                    actor_id=user_id,
                    action="case.owner_transferred",
                    object_type="case",
                    object_id=case.case_id,
                    case_id=case.case_id,
                    details={"to": successor_id},
                )
                moved += 1
        return moved

    def erase_owned(self, user_id: str, case_ids: Sequence[str]) -> Sequence[str]:
        """Delete these cases of the user's (as `delete` does: soft, then whatever other
        domains keep about them through `CaseDeleted`); returns the ids deleted."""
        wanted = set(case_ids)
        deleted = []
        with self._db.session() as session:
            for case in store.owned_cases(session, user_id, for_update=True):
                if case.case_id in wanted:
                    case.deleted_at = case.updated_at = utcnow()
                    audit.record(
                        session,
                        actor_id=user_id,
                        action="case.deleted",
                        object_type="case",
                        object_id=case.case_id,
                        case_id=case.case_id,
                        details={"reason": "account deleted"},
                    )
                    deleted.append(case.case_id)
        for case_id in deleted:
            self._events.publish(CaseDeleted(case_id))
        return deleted

    def leave_all(self, user_id: str) -> int:
        """Take the user off every case they participate in."""
        with self._db.session() as session:
            rows = store.participations(session, user_id)
            for row in rows:
                store.remove_participant(session, row)
                audit.record(
                    session,
                    actor_id=user_id,
                    action="case.participant_removed",
                    object_type="case",
                    object_id=row.case_id,
                    case_id=row.case_id,
                    details={"user_id": user_id, "reason": "account deleted"},
                )
            return len(rows)
