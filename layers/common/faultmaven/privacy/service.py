"""Data rights (storage seed §16): a user exports everything that is theirs as one
archive, or deletes their account. Each domain gives up its part through its own
service; this module only orders the steps.

Deletion hands what others can still see (shared cases and documents, organizations
the user alone owns) to a named successor, and deletes the rest, vectors and files
included. It checks everything that could refuse it before it changes anything.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from faultmaven.auth.principal import Principal
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError, ValidationFailedError
from faultmaven.core.logging import logger
from faultmaven.core.ports import ObjectStore, TaskQueue
from faultmaven.core.storage import EXPORTS
from faultmaven.evidence.models import DownloadLink
from faultmaven.jobs.models import Job, JobStatus
from faultmaven.privacy.models import (
    ARCHIVE_FORMAT_VERSION,
    DELETE_TASK,
    EXPORT_JOB,
    EXPORT_TASK,
    AccountDeletion,
    DeletionAccepted,
    DeletionSummary,
)

if TYPE_CHECKING:
    from faultmaven.auth.service import AuthService
    from faultmaven.cases.service import CaseService
    from faultmaven.evidence.service import EvidenceService
    from faultmaven.history.service import HistoryService
    from faultmaven.jobs.service import JobService
    from faultmaven.knowledge.service import KnowledgeService
    from faultmaven.organizations.service import OrganizationService
    from faultmaven.sessions.service import SessionService


def export_key(user_id: str, job_id: str) -> str:
    return f"{EXPORTS}{user_id}/{job_id}.zip"


class PrivacyService:
    def __init__(
        self,
        *,
        auth: AuthService,
        cases: CaseService,
        evidence: EvidenceService,
        knowledge: KnowledgeService,
        organizations: OrganizationService,
        sessions: SessionService,
        history: HistoryService,
        jobs: JobService,
        objects: ObjectStore,
        tasks: TaskQueue,
        url_ttl_seconds: int,
    ) -> None:
        self._auth = auth
        self._cases = cases
        self._evidence = evidence
        self._knowledge = knowledge
        self._organizations = organizations
        self._sessions = sessions
        self._history = history
        self._jobs = jobs
        self._objects = objects
        self._tasks = tasks
        self._url_ttl = url_ttl_seconds

    # -- export ------------------------------------------------------------------------
    def request_export(self, principal: Principal) -> Job:
        job = self._jobs.create_for_user(kind=EXPORT_JOB, owner_id=principal.user_id)
        self._tasks.submit(EXPORT_TASK, {"job_id": job.job_id, "user_id": principal.user_id})
        return job

    def run_export(self, job_id: str, user_id: str) -> None:
        """Build the archive in a temporary file (never all in memory at once), store
        it, finish the job. A failure fails the job with its reason; nothing partial is
        ever offered for download."""
        job = self._jobs.peek(job_id)
        if job is None or job.owner_id != user_id or job.status is JobStatus.COMPLETED:
            return  # expired, not this user's, or a repeated delivery
        try:
            self._jobs.progress(job_id, stage="collecting", progress=10)
            body = self._archive(user_id)
            self._objects.put(export_key(user_id, job_id), body, content_type="application/zip")
        except Exception as exc:
            logger.error(
                "data export failed", extra={"job_id": job_id, "error": type(exc).__name__}
            )
            self._jobs.finish(job_id, error="The export could not be built; request a new one")
            raise
        self._jobs.finish(job_id, result_path=f"/api/v1/auth/me/exports/{job_id}")
        logger.info("data exported", extra={"user_id": user_id, "job_id": job_id})

    def download_export(self, principal: Principal, job_id: str) -> DownloadLink:
        job = self._jobs.get(principal, job_id)  # 404 unless it is the caller's
        key = export_key(principal.user_id, job_id)
        if job.kind != EXPORT_JOB or job.status is not JobStatus.COMPLETED:
            raise NotFoundError("Export not found", error_code="EXPORT_NOT_FOUND")
        if self._objects.head(key) is None:
            raise NotFoundError("The export has expired", error_code="EXPORT_NOT_FOUND")
        filename = f"faultmaven-export-{job_id}.zip"
        return DownloadLink(
            url=self._objects.presign_get(key, filename=filename, expires_in=self._url_ttl),
            filename=filename,
            expires_at=utcnow() + timedelta(seconds=self._url_ttl),
        )

    def _archive(self, user_id: str) -> bytes:
        profile = self._auth.active_user(user_id)
        if profile is None:
            raise NotFoundError("User not found", error_code="USER_NOT_FOUND")
        cases = self._cases.export_owned(user_id)
        case_ids = [bundle["case"]["case_id"] for bundle in cases]
        evidence = self._evidence.export_for_cases(case_ids)
        documents = self._knowledge.export_owned(user_id)
        with tempfile.TemporaryFile() as spool:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                manifest: dict[str, Any] = {
                    "format_version": ARCHIVE_FORMAT_VERSION,
                    "exported_at": utcnow().isoformat(),
                    "user_id": user_id,
                    "cases": len(cases),
                    "evidence": len(evidence),
                    "documents": len(documents),
                    "missing_files": [],
                }
                _write_json(archive, "profile.json", profile.model_dump(mode="json"))
                for bundle in cases:
                    _write_json(archive, f"cases/{bundle['case']['case_id']}.json", bundle)
                for detail, key in evidence:
                    folder = f"evidence/{detail['case_id']}/{detail['evidence_id']}"
                    _write_json(archive, f"{folder}/metadata.json", detail)
                    raw = self._evidence.read_artifact(key)
                    if raw is None:  # expired by the bucket's lifecycle rule
                        manifest["missing_files"].append(detail["evidence_id"])
                    else:
                        archive.writestr(f"{folder}/{_safe_name(detail['filename'])}", raw)
                for document in documents:
                    _write_json(archive, f"knowledge/{document['document_id']}.json", document)
                _write_json(archive, "manifest.json", manifest)
            spool.seek(0)
            return spool.read()

    # -- deletion ----------------------------------------------------------------------
    def delete_account(self, principal: Principal, body: AccountDeletion) -> DeletionAccepted:
        """Check everything that could refuse the deletion, stop the account at once
        (tokens revoked, no new login), and leave the erasing to a background task: a
        large account takes longer than a request may."""
        user_id = principal.user_id
        self._auth.confirm_password(principal, body.password)
        successor = body.successor_id
        if successor is not None and (
            successor == user_id or self._auth.active_user(successor) is None
        ):
            raise ValidationFailedError(
                "The successor must be another active user",
                details=[{"field": "successor_id", "message": "not another active user"}],
            )
        shared_cases, private_cases = self._cases.owned_split(user_id)
        shared_docs, private_docs = self._knowledge.owned_split(user_id)
        orgs = self._organizations.solely_owned(user_id)
        if successor is None and (shared_cases or shared_docs or orgs):
            raise ConflictError(
                "Others can still see some of what you own: name a successor to hand it to",
                error_code="SUCCESSOR_REQUIRED",
                details={
                    "shared_cases": len(shared_cases),
                    "shared_documents": len(shared_docs),
                    "organizations_owned_alone": len(orgs),
                },
            )
        self._auth.deactivate_for_deletion(user_id, successor_id=successor)
        payload = {"user_id": user_id} | ({"successor_id": successor} if successor else {})
        self._tasks.submit(DELETE_TASK, payload)
        return DeletionAccepted(
            cases_to_hand_over=len(shared_cases) if successor else 0,
            cases_to_delete=len(private_cases),
            documents_to_hand_over=len(shared_docs) if successor else 0,
            documents_to_delete=len(private_docs),
            organizations_to_hand_over=len(orgs) if successor else 0,
        )

    def run_deletion(self, user_id: str, successor_id: str | None) -> DeletionSummary:
        """Erase a deactivated account. What others see is handed over first, so a
        failure halfway never deletes anything someone else relies on; every step is
        idempotent, so a retried task finishes the job."""
        if not self._auth.pending_deletion(user_id):
            return DeletionSummary()  # already erased, or never asked for
        shared_cases, private_cases = self._cases.owned_split(user_id)
        shared_docs, private_docs = self._knowledge.owned_split(user_id)
        handed_cases = handed_docs = 0
        if successor_id is not None:
            handed_cases = self._cases.hand_over(user_id, successor_id, shared_cases)
            handed_docs = self._knowledge.hand_over_documents(user_id, successor_id, shared_docs)
        else:  # nothing was shared when it was asked; anything shared since goes too
            private_cases = [*shared_cases, *private_cases]
            private_docs = [*shared_docs, *private_docs]
        memberships = self._organizations.leave_all(user_id, successor_id=successor_id)
        participations = self._cases.leave_all(user_id)
        deleted_cases = self._cases.erase_owned(user_id, private_cases)
        evidence = self._evidence.erase_for_cases(deleted_cases, actor_id=user_id)
        documents = self._knowledge.erase_documents(user_id, private_docs)
        self._knowledge.forget_owner(user_id)  # any chunk still naming the user
        sessions = self._sessions.end_all(user_id)
        self._history.forget_owner(user_id)  # deleted cases took their sessions along
        self._objects.delete_prefix(f"{EXPORTS}{user_id}/")
        summary = DeletionSummary(
            cases_deleted=len(deleted_cases),
            cases_handed_over=handed_cases,
            documents_deleted=documents,
            documents_handed_over=handed_docs,
            evidence_deleted=evidence,
            memberships_left=memberships,
            participations_left=participations,
            sessions_ended=sessions,
        )
        self._auth.erase_account(
            user_id, details={**summary.model_dump(), "successor_id": successor_id}
        )
        logger.info("account deleted", extra={"user_id": user_id})
        return summary


def _write_json(archive: zipfile.ZipFile, name: str, value: Any) -> None:
    archive.writestr(name, json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _safe_name(filename: str) -> str:
    """A file name that stays inside its folder of the archive."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    return name or "artifact"
