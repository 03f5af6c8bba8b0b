"""Cases and everything inside them. Every public method takes the caller and checks
their role on the case before reading or writing anything (see `access.py`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from faultmaven.audit import service as audit
from faultmaven.auth import queries as users
from faultmaven.auth.principal import Principal
from faultmaven.cases import confidence, lifecycle, store
from faultmaven.cases.access import Access, effective_role, require
from faultmaven.cases.events import CaseDeleted
from faultmaven.cases.models import (
    AuditEventOut,
    CaseCreate,
    CaseOut,
    CasePriority,
    CaseStatus,
    CaseUpdate,
    HypothesisCreate,
    HypothesisOut,
    HypothesisUpdate,
    MessageCreate,
    MessageOut,
    MessageType,
    ParticipantAdd,
    ParticipantOut,
    ParticipantRole,
    SolutionCreate,
    SolutionOut,
    SolutionStatus,
    SolutionUpdate,
    StatusChange,
    StatusTransitionOut,
    Visibility,
)
from faultmaven.cases.owners import CaseOwners
from faultmaven.cases.views import case_out as _case_out
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError, ValidationFailedError
from faultmaven.core.events import Events
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.logging import logger
from faultmaven.core.models import replace_hidden_characters
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database
from faultmaven.db.tables import (
    Case,
    CaseMessage,
    CaseParticipant,
    Hypothesis,
    Solution,
)
from faultmaven.organizations.models import Scopes
from faultmaven.organizations.placement import PlacementError, Problem, resolve_placement
from faultmaven.organizations.queries import scopes_in

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Out = TypeVar("Out", bound=BaseModel)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class AgentCaseView:
    case: CaseOut
    role: ParticipantRole
    closed: bool
    hypotheses: list[HypothesisOut]
    solutions: list[SolutionOut]
    message_count: int


class CaseService(CaseOwners):
    def __init__(self, database: Database, events: Events) -> None:
        self._db = database
        self._events = events

    # -- cases -----------------------------------------------------------------------
    def create(self, principal: Principal, body: CaseCreate) -> CaseOut:
        now = utcnow()
        with self._db.session() as session:
            team_id, org_id = self._placement(
                session, principal, body.visibility, body.team_id, body.org_id
            )
            case = Case(
                case_id=new_id("case"),
                owner_id=principal.user_id,
                title=body.title,
                description=body.description,
                status=CaseStatus.ACTIVE.value,
                priority=body.priority.value,
                tags=body.tags,
                visibility=body.visibility.value,
                team_id=team_id,
                org_id=org_id,
                created_at=now,
                updated_at=now,
                status_changed_at=now,
            )
            store.add(session, case)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="case.created",
                object_type="case",
                object_id=case.case_id,
                case_id=case.case_id,
                details={"visibility": case.visibility},
            )
            return _case_out(case, ParticipantRole.OWNER)

    def require_access(
        self, principal: Principal, case_id: str, needed: Access, *, open_case: bool = False
    ) -> ParticipantRole:
        """For other domains (evidence, jobs): the caller's role on the case, or the same
        404/403 the case routes give. With `open_case`, an archived case is refused."""
        with self._db.session() as session:
            case, role = self._authorize(session, principal, case_id, needed)
            if open_case and CaseStatus(case.status) in lifecycle.CLOSED:
                raise ConflictError("The case is archived and read-only", error_code="CASE_CLOSED")
            return role

    def get(self, principal: Principal, case_id: str) -> CaseOut:
        with self._db.session() as session:
            case, role = self._authorize(session, principal, case_id, Access.READ)
            return _case_out(case, role)

    def update(self, principal: Principal, case_id: str, body: CaseUpdate) -> CaseOut:
        changes = body.model_dump(exclude_unset=True)
        placement = {"visibility", "team_id", "org_id"} & changes.keys()
        needed = Access.MANAGE if placement else Access.WRITE
        with self._db.session() as session:
            case, role = self._authorize(session, principal, case_id, needed, for_update=True)
            if changes.keys() - placement and CaseStatus(case.status) in lifecycle.CLOSED:
                # Sharing can still be narrowed on an archived case; its content is final.
                raise ConflictError("The case is archived and read-only", error_code="CASE_CLOSED")
            if placement:
                visibility = body.visibility or Visibility(case.visibility)
                case.visibility = visibility.value
                # Making a case private never needs group membership: an owner who has
                # left the team must still be able to stop sharing with it.
                if visibility is not Visibility.PRIVATE or {"team_id", "org_id"} & changes.keys():
                    case.team_id, case.org_id = self._placement(
                        session,
                        principal,
                        visibility,
                        changes.get("team_id", case.team_id),
                        changes.get("org_id", case.org_id),
                    )
            for name in ("title", "description", "tags"):
                if name in changes:
                    setattr(case, name, changes[name])
            if "priority" in changes:
                case.priority = CasePriority(changes["priority"]).value
            case.updated_at = utcnow()
            audit.record(
                session,
                actor_id=principal.user_id,
                action="case.updated",
                object_type="case",
                object_id=case_id,
                case_id=case_id,
                details={"fields": sorted(changes)},
            )
            return _case_out(case, role)

    def title_from_question(
        self, principal: Principal, case_id: str, *, max_words: int, hint: str | None = None
    ) -> CaseOut:
        """Name the case after its first question (stored redacted) or the hint: its
        first `max_words` words on one line. 422 while there is nothing to name it after."""
        first = self.messages(principal, case_id, PageRequest(page=1, page_size=20)).items
        questions = [m.content for m in first if m.type is MessageType.USER_QUERY]
        source = hint or (questions[0] if questions else "")
        printable = "".join(c for c in source if c.isprintable() or c.isspace())
        words = replace_hidden_characters(printable, "").split()
        title = " ".join(words[:max_words]).strip(" .,:;!?-")[:200]
        if not title:
            raise ValidationFailedError(
                "Insufficient context to generate a title: the case has no question yet",
                error_code="INSUFFICIENT_CONTEXT",
            )
        return self.update(principal, case_id, CaseUpdate(title=title))

    def delete(self, principal: Principal, case_id: str) -> None:
        with self._db.session() as session:
            case, _ = self._authorize(session, principal, case_id, Access.MANAGE, for_update=True)
            case.deleted_at = utcnow()
            case.updated_at = case.deleted_at
            audit.record(
                session,
                actor_id=principal.user_id,
                action="case.deleted",
                object_type="case",
                object_id=case_id,
                case_id=case_id,
            )
        try:
            self._events.publish(CaseDeleted(case_id))
        except Exception as exc:  # the case is gone: its memory is never returned
            logger.error(
                "could not delete what other domains keep about the case",
                extra={"case_id": case_id, "error": type(exc).__name__},
            )

    def list(
        self,
        principal: Principal,
        page: PageRequest,
        *,
        status: CaseStatus | frozenset[CaseStatus] | None = None,
        priority: CasePriority | None = None,
        relation: str = "all",
        text: str | None = None,
        sort: str = "-updated_at",
    ) -> Page[CaseOut]:
        with self._db.session() as session:
            scopes = scopes_in(session, principal.user_id)
            cases, total = store.page_of_visible(
                session,
                principal.user_id,
                scopes,
                sees_all=principal.is_analyst,
                relation=relation,
                status=status,
                priority=priority,
                text=text,
                sort=sort,
                limit=page.page_size,
                offset=page.offset,
            )
            roles = store.participant_roles(session, [c.case_id for c in cases], principal.user_id)
            items = [
                _case_out(c, self._role(principal, c, roles.get(c.case_id), scopes)) for c in cases
            ]
        return Page[CaseOut].of(items, total, page)

    # -- lifecycle -------------------------------------------------------------------
    def change_status(self, principal: Principal, case_id: str, body: StatusChange) -> CaseOut:
        with self._db.session() as session:
            case, role = self._authorize(session, principal, case_id, Access.WRITE, for_update=True)
            current = CaseStatus(case.status)
            if not lifecycle.can_transition(current, body.status):
                raise ConflictError(
                    f"A case cannot move from {current.value} to {body.status.value}",
                    error_code="ILLEGAL_STATUS_TRANSITION",
                    details={
                        "from": current.value,
                        "to": body.status.value,
                        "allowed": [s.value for s in lifecycle.allowed_targets(current)],
                    },
                )
            store.record_transition(
                session,
                case,
                body.status,
                actor_id=principal.user_id,
                reason=body.reason,
                now=utcnow(),
            )
            return _case_out(case, role)

    def archive_resolved(
        self,
        statuses: Collection[CaseStatus],
        cutoff: datetime,
        *,
        reason: str,
        after: str | None,
        limit: int,
        dry_run: bool,
    ) -> tuple[Sequence[str], int]:
        """One retention batch: live cases (ids after `after`, key order) left in one of
        `statuses` since `cutoff` are archived by the system, a recorded transition like
        any other. Returns the ids examined and how many were (or would be) archived."""
        with self._db.session() as session:
            ids = store.in_status_since(session, statuses, cutoff, after=after, limit=limit)
            if dry_run or not ids:
                return ids, len(ids)
            archived = 0
            # Checked again under the lock: someone may have moved it meanwhile.
            for case in store.lock_live(session, ids):
                current = CaseStatus(case.status)
                if (
                    current in statuses
                    and case.status_changed_at <= cutoff
                    and lifecycle.can_transition(current, CaseStatus.ARCHIVED)
                ):
                    store.record_transition(
                        session,
                        case,
                        CaseStatus.ARCHIVED,
                        actor_id=None,
                        reason=reason,
                        now=utcnow(),
                    )
                    archived += 1
            return ids, archived

    def status_history(
        self, principal: Principal, case_id: str, page: PageRequest
    ) -> Page[StatusTransitionOut]:
        return self._page_of_children(principal, case_id, "transitions", StatusTransitionOut, page)

    # -- messages --------------------------------------------------------------------
    def add_message(self, principal: Principal, case_id: str, body: MessageCreate) -> MessageOut:
        with self._db.session() as session:
            case = self._open_case(session, principal, case_id, touch=True)
            message = CaseMessage(
                message_id=new_id("msg"),
                case_id=case_id,
                author_id=principal.user_id,
                type=body.type.value,
                content=body.content,
                metadata_=body.metadata,
                created_at=utcnow(),
            )
            store.add(session, message)
            case.updated_at = message.created_at
            return MessageOut.model_validate(message)

    def messages(self, principal: Principal, case_id: str, page: PageRequest) -> Page[MessageOut]:
        return self._page_of_children(principal, case_id, "messages", MessageOut, page)

    def record_turn(
        self,
        principal: Principal,
        case_id: str,
        *,
        query: str,
        query_metadata: dict[str, Any],
        answer: str,
        answer_metadata: dict[str, Any],
        asked_by_system: bool = False,
    ) -> tuple[MessageOut, MessageOut]:
        """An agent turn's question (by the caller) and answer (by no user: the agent),
        stored together so a conversation never shows one without the other.
        `asked_by_system`: the question is the autonomous investigation's own instruction,
        a system event by nobody, not something the caller typed."""
        with self._db.session() as session:
            case = self._open_case(session, principal, case_id, touch=True)
            asked = utcnow()
            question = CaseMessage(
                message_id=new_id("msg"),
                case_id=case_id,
                author_id=None if asked_by_system else principal.user_id,
                type=(
                    MessageType.SYSTEM_EVENT if asked_by_system else MessageType.USER_QUERY
                ).value,
                content=query,
                metadata_=query_metadata,
                created_at=asked,
            )
            reply = CaseMessage(
                message_id=new_id("msg"),
                case_id=case_id,
                author_id=None,
                type=MessageType.AGENT_RESPONSE.value,
                content=answer,
                metadata_=answer_metadata,
                created_at=max(utcnow(), asked + _ONE_MICROSECOND),
            )
            store.add(session, question)
            store.add(session, reply)
            case.updated_at = reply.created_at
            return MessageOut.model_validate(question), MessageOut.model_validate(reply)

    def agent_view(self, principal: Principal, case_id: str, *, needed: Access) -> AgentCaseView:
        """What the agent reads about a case before a turn, in one transaction: the case,
        the caller's role, its hypotheses and solutions (the newest 50 of each) and how
        many messages it has."""
        with self._db.session() as session:
            case, role = self._authorize(session, principal, case_id, needed)
            return AgentCaseView(
                case=_case_out(case, role),
                role=role,
                closed=CaseStatus(case.status) in lifecycle.CLOSED,
                hypotheses=[
                    HypothesisOut.model_validate(h)
                    for h in store.newest_children(session, Hypothesis, case_id, limit=50)
                ],
                solutions=[
                    SolutionOut.model_validate(s)
                    for s in store.newest_children(session, Solution, case_id, limit=50)
                ],
                message_count=store.count_children(session, CaseMessage, case_id),
            )

    def search_messages(
        self, principal: Principal, case_id: str, terms: Sequence[str], *, limit: int = 5
    ) -> Sequence[MessageOut]:
        with self._db.session() as session:
            self._authorize(session, principal, case_id, Access.READ)
            return [
                MessageOut.model_validate(m)
                for m in store.search_messages(session, case_id, terms, limit=limit)
            ]

    # -- hypotheses ------------------------------------------------------------------
    def add_hypothesis(
        self, principal: Principal, case_id: str, body: HypothesisCreate
    ) -> HypothesisOut:
        now = utcnow()
        likelihood, status = confidence.assess(body.initial_likelihood, 0, 0, 0)
        with self._db.session() as session:
            self._open_case(session, principal, case_id)
            hypothesis = Hypothesis(
                hypothesis_id=new_id("hyp"),
                case_id=case_id,
                statement=body.statement,
                category=body.category.value,
                rationale=body.rationale,
                status=status.value,
                initial_likelihood=body.initial_likelihood,
                likelihood=likelihood,
                supporting_evidence=[],
                refuting_evidence=[],
                turns_without_progress=0,
                created_by=principal.user_id,
                created_at=now,
                updated_at=now,
            )
            store.add(session, hypothesis)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="hypothesis.created",
                object_type="hypothesis",
                object_id=hypothesis.hypothesis_id,
                case_id=case_id,
            )
            return HypothesisOut.model_validate(hypothesis)

    def update_hypothesis(
        self, principal: Principal, case_id: str, hypothesis_id: str, body: HypothesisUpdate
    ) -> HypothesisOut:
        with self._db.session() as session:
            self._open_case(session, principal, case_id)
            hypothesis = self._child(
                session, Hypothesis, case_id, hypothesis_id, "HYPOTHESIS", for_update=True
            )
            changes = body.model_dump(exclude_unset=True)
            for name in ("statement", "rationale", "turns_without_progress"):
                if name in changes:
                    setattr(hypothesis, name, changes[name])
            if "category" in changes:
                hypothesis.category = changes["category"].value
            if body.add_supporting_evidence:
                hypothesis.supporting_evidence = [
                    *hypothesis.supporting_evidence,
                    *body.add_supporting_evidence,
                ]
            if body.add_refuting_evidence:
                hypothesis.refuting_evidence = [
                    *hypothesis.refuting_evidence,
                    *body.add_refuting_evidence,
                ]
            previous = hypothesis.status
            hypothesis.likelihood, status = confidence.assess(
                hypothesis.initial_likelihood,
                len(hypothesis.supporting_evidence),
                len(hypothesis.refuting_evidence),
                hypothesis.turns_without_progress,
            )
            hypothesis.status = status.value
            hypothesis.updated_at = utcnow()
            if status.value != previous:
                concluded = status.value in {"validated", "refuted", "retired"}
                hypothesis.concluded_at = hypothesis.updated_at if concluded else None
            audit.record(
                session,
                actor_id=principal.user_id,
                action="hypothesis.updated",
                object_type="hypothesis",
                object_id=hypothesis_id,
                case_id=case_id,
                details={
                    "fields": sorted(changes),
                    "likelihood": hypothesis.likelihood,
                    "status": hypothesis.status,
                },
            )
            return HypothesisOut.model_validate(hypothesis)

    def hypotheses(
        self, principal: Principal, case_id: str, page: PageRequest
    ) -> Page[HypothesisOut]:
        return self._page_of_children(principal, case_id, "hypotheses", HypothesisOut, page)

    def get_hypothesis(
        self, principal: Principal, case_id: str, hypothesis_id: str
    ) -> HypothesisOut:
        with self._db.session() as session:
            self._authorize(session, principal, case_id, Access.READ)
            return HypothesisOut.model_validate(
                self._child(session, Hypothesis, case_id, hypothesis_id, "HYPOTHESIS")
            )

    # -- solutions -------------------------------------------------------------------
    def add_solution(self, principal: Principal, case_id: str, body: SolutionCreate) -> SolutionOut:
        now = utcnow()
        with self._db.session() as session:
            self._open_case(session, principal, case_id)
            if body.hypothesis_id is not None:
                self._child(session, Hypothesis, case_id, body.hypothesis_id, "HYPOTHESIS")
            solution = Solution(
                solution_id=new_id("sol"),
                case_id=case_id,
                hypothesis_id=body.hypothesis_id,
                title=body.title,
                description=body.description,
                category=body.category.value,
                status=SolutionStatus.PROPOSED.value,
                steps=body.steps,
                risk_level=body.risk_level.value,
                created_by=principal.user_id,
                created_at=now,
                updated_at=now,
            )
            store.add(session, solution)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="solution.proposed",
                object_type="solution",
                object_id=solution.solution_id,
                case_id=case_id,
            )
            return SolutionOut.model_validate(solution)

    def update_solution(
        self, principal: Principal, case_id: str, solution_id: str, body: SolutionUpdate
    ) -> SolutionOut:
        with self._db.session() as session:
            self._open_case(session, principal, case_id)
            solution = self._child(
                session, Solution, case_id, solution_id, "SOLUTION", for_update=True
            )
            changes = body.model_dump(exclude_unset=True)
            if body.status is not None and body.status.value != solution.status:
                current = SolutionStatus(solution.status)
                if not lifecycle.can_move_solution(current, body.status):
                    raise ConflictError(
                        f"A solution cannot move from {current.value} to {body.status.value}",
                        error_code="ILLEGAL_SOLUTION_TRANSITION",
                        details={
                            "from": current.value,
                            "to": body.status.value,
                            "allowed": sorted(
                                s.value for s in lifecycle.SOLUTION_TRANSITIONS[current]
                            ),
                        },
                    )
                solution.status = body.status.value
                if body.status is SolutionStatus.APPLIED:
                    solution.applied_at = utcnow()
            for name in ("title", "description", "steps", "outcome"):
                if name in changes:
                    setattr(solution, name, changes[name])
            if body.risk_level is not None:
                solution.risk_level = body.risk_level.value
            solution.updated_at = utcnow()
            audit.record(
                session,
                actor_id=principal.user_id,
                action="solution.updated",
                object_type="solution",
                object_id=solution_id,
                case_id=case_id,
                details={"fields": sorted(changes), "status": solution.status},
            )
            return SolutionOut.model_validate(solution)

    def solutions(self, principal: Principal, case_id: str, page: PageRequest) -> Page[SolutionOut]:
        return self._page_of_children(principal, case_id, "solutions", SolutionOut, page)

    # -- sharing ---------------------------------------------------------------------
    def add_participant(
        self, principal: Principal, case_id: str, body: ParticipantAdd
    ) -> tuple[ParticipantOut, bool]:
        """Add or change a participant; the flag says whether they were new."""
        with self._db.session() as session:
            case, _ = self._authorize(session, principal, case_id, Access.MANAGE)
            user = users.live_user(session, body.user_id)
            if user is None or not user.is_active:
                raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
            if user.user_id == case.owner_id:
                raise ConflictError(
                    "The case owner is already on the case", error_code="ALREADY_OWNER"
                )
            participant = store.participant(session, case_id, user.user_id)
            created = participant is None
            if participant is None:
                participant = CaseParticipant(
                    case_id=case_id,
                    user_id=user.user_id,
                    role=body.role.value,
                    added_by=principal.user_id,
                    added_at=utcnow(),
                )
                store.add(session, participant)
            else:
                participant.role = body.role.value
            audit.record(
                session,
                actor_id=principal.user_id,
                action="case.participant_added" if created else "case.participant_role_changed",
                object_type="case",
                object_id=case_id,
                case_id=case_id,
                details={"user_id": user.user_id, "role": body.role.value},
            )
            return ParticipantOut.model_validate(participant), created

    def remove_participant(self, principal: Principal, case_id: str, user_id: str) -> None:
        """Owners and admins remove anyone; a participant may always leave."""
        needed = Access.READ if user_id == principal.user_id else Access.MANAGE
        with self._db.session() as session:
            self._authorize(session, principal, case_id, needed)
            participant = (
                store.participant(session, case_id, user_id) if looks_like_id(user_id) else None
            )
            if participant is None:
                raise NotFoundError("Participant not found", error_code="PARTICIPANT_NOT_FOUND")
            store.remove_participant(session, participant)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="case.participant_removed",
                object_type="case",
                object_id=case_id,
                case_id=case_id,
                details={"user_id": user_id},
            )

    def participants(
        self, principal: Principal, case_id: str, page: PageRequest
    ) -> Page[ParticipantOut]:
        with self._db.session() as session:
            self._authorize(session, principal, case_id, Access.READ)
            rows, total = store.participants(
                session, case_id, limit=page.page_size, offset=page.offset
            )
            return Page[ParticipantOut].of(
                [ParticipantOut.model_validate(p) for p in rows], total, page
            )

    def audit_trail(
        self, principal: Principal, case_id: str, page: PageRequest
    ) -> Page[AuditEventOut]:
        with self._db.session() as session:
            self._authorize(session, principal, case_id, Access.MANAGE)
            events, total = audit.events_for_case(
                session, case_id, limit=page.page_size, offset=page.offset
            )
            return Page[AuditEventOut].of(
                [AuditEventOut.model_validate(e) for e in events], total, page
            )

    # -- helpers ---------------------------------------------------------------------
    def _authorize(
        self,
        session: Session,
        principal: Principal,
        case_id: str,
        needed: Access,
        *,
        for_update: bool = False,
        lock: str | None = None,
    ) -> tuple[Case, ParticipantRole]:
        case = (
            store.live_case(session, case_id, lock="update" if for_update else lock)
            if looks_like_id(case_id, "case")
            else None
        )
        if case is None:
            raise NotFoundError("Case not found", error_code="CASE_NOT_FOUND")
        participant = store.participant_role(session, case_id, principal.user_id)
        scopes = None
        if (
            case.visibility != Visibility.PRIVATE.value
            and participant is None
            and case.owner_id != principal.user_id
        ):
            scopes = scopes_in(session, principal.user_id)
        role = self._role(principal, case, participant, scopes)
        require(role, needed)
        assert role is not None
        return case, role

    def _open_case(
        self, session: Session, principal: Principal, case_id: str, *, touch: bool = False
    ) -> Case:
        """A case the caller may write to and that still accepts new content, locked until
        the transaction ends so it cannot be archived halfway through a write. `touch`:
        the transaction will update the case row too (its `updated_at`), so the lock is
        taken for writing at once rather than upgraded from a shared one later."""
        lock = "write" if touch else "share"
        case, _ = self._authorize(session, principal, case_id, Access.WRITE, lock=lock)
        if CaseStatus(case.status) in lifecycle.CLOSED:
            raise ConflictError("The case is archived and read-only", error_code="CASE_CLOSED")
        return case

    @staticmethod
    def _role(
        principal: Principal, case: Case, participant: ParticipantRole | None, scopes: Scopes | None
    ) -> ParticipantRole | None:
        return effective_role(
            user_id=principal.user_id,
            is_admin=principal.is_admin,
            owner_id=case.owner_id,
            participant_role=participant,
            visibility=Visibility(case.visibility),
            team_id=case.team_id,
            org_id=case.org_id,
            scopes=scopes,
            is_analyst=principal.is_analyst,
        )

    @staticmethod
    def _placement(
        session: Session,
        principal: Principal,
        visibility: Visibility,
        team_id: str | None,
        org_id: str | None,
    ) -> tuple[str | None, str | None]:
        """Validate where a case is shared: the caller must belong to that team or
        organization (admins may place any case anywhere that exists)."""
        try:
            return resolve_placement(
                session,
                principal,
                team_id=team_id,
                org_id=org_id,
                needs_team=visibility is Visibility.TEAM,
                needs_org=visibility is Visibility.ORGANIZATION,
            )
        except PlacementError as refused:
            raise _placement_error(refused.field, _PLACEMENT_MESSAGES[refused.problem]) from None

    @staticmethod
    def _child(
        session: Session,
        model: type[Any],
        case_id: str,
        child_id: str,
        kind: str,
        *,
        for_update: bool = False,
    ) -> Any:
        """A hypothesis or solution of this case; `for_update` locks it, so concurrent
        edits (two evidence appends, two status moves) apply one after the other."""
        row = (
            store.child(session, model, child_id, for_update=for_update)
            if looks_like_id(child_id)
            else None
        )
        if row is None or row.case_id != case_id:
            raise NotFoundError(f"{kind.title()} not found", error_code=f"{kind}_NOT_FOUND")
        return row

    def _page_of_children(
        self, principal: Principal, case_id: str, kind: str, out: type[Out], page: PageRequest
    ) -> Page[Out]:
        with self._db.session() as session:
            self._authorize(session, principal, case_id, Access.READ)
            rows, total = store.children(
                session, store.CHILD_MODELS[kind], case_id, limit=page.page_size, offset=page.offset
            )
            result: Page[Out] = Page.of([out.model_validate(r) for r in rows], total, page)
            return result


_PLACEMENT_MESSAGES = {
    Problem.TEAM_NOT_MINE: "not a team you belong to",
    Problem.TEAM_IN_OTHER_ORG: "the team belongs to another organization",
    Problem.ORG_NOT_MINE: "not an organization you belong to",
    Problem.NEEDS_TEAM: "team visibility needs a team_id",
    Problem.NEEDS_ORG: "organization visibility needs an org_id",
}


def _placement_error(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError(
        f"Invalid sharing: {message}",
        details=[{"field": field, "message": message, "type": "value_error"}],
    )
