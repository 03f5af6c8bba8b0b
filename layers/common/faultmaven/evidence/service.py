"""Evidence: accepting uploads, reporting what preprocessing found, and deleting it all.

The bytes never pass through the API: clients send them straight to S3 with a presigned
POST whose policy caps the size; the S3 notification starts the pipeline. Case roles
apply: viewers read, collaborators upload and delete, everyone else gets 404.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

from faultmaven.audit import service as audit
from faultmaven.auth.principal import Principal
from faultmaven.cases import queries as case_queries
from faultmaven.cases.access import Access
from faultmaven.cases.models import CaseStatus
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import NotFoundError, PayloadTooLargeError
from faultmaven.core.events import Events
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.logging import logger
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database, ObjectStore, Workflow
from faultmaven.core.storage import ARTIFACTS, artifact_key, work_prefix
from faultmaven.db.tables import Evidence, EvidenceChunk
from faultmaven.evidence import store
from faultmaven.evidence.events import (
    CaseMemoryExpired,
    EvidenceChunksStored,
    EvidenceDeleted,
    EvidenceProcessed,
)
from faultmaven.evidence.models import (
    DownloadLink,
    EvidenceAccepted,
    EvidenceDetail,
    EvidenceOut,
    EvidenceStatus,
    TextEvidenceRequest,
    UploadInstructions,
    UploadRequest,
    is_content_type,
    safe_filename,
)
from faultmaven.jobs.service import JobService
from faultmaven.preprocessing.models import DataType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    key: str
    filename: str
    content_type: str
    override: str | None


class CaseAccess(Protocol):
    """`CaseService.require_access`: the caller's role, or the case routes' 404/403/409."""

    def __call__(
        self, principal: Principal, case_id: str, needed: Access, *, open_case: bool = False
    ) -> object: ...


class EvidenceService:
    def __init__(
        self,
        database: Database,
        objects: ObjectStore,
        jobs: JobService,
        *,
        require_case_access: CaseAccess,
        workflow: Callable[[], Workflow],
        max_upload_bytes: int,
        url_ttl_seconds: int,
        events: Events,
    ) -> None:
        self._db = database
        self._events = events
        self._objects = objects
        self._jobs = jobs
        self._require = require_case_access
        self._workflow = workflow
        self._max_bytes = max_upload_bytes
        self._url_ttl = url_ttl_seconds

    # -- intake ----------------------------------------------------------------------
    def request_upload(
        self, principal: Principal, case_id: str, body: UploadRequest
    ) -> EvidenceAccepted:
        self._require(principal, case_id, Access.WRITE, open_case=True)
        if body.size_bytes > self._max_bytes:
            raise PayloadTooLargeError(
                f"Uploads are limited to {self._max_bytes} bytes",
                details={"size_bytes": body.size_bytes, "max_bytes": self._max_bytes},
            )
        evidence = self._new_evidence(
            principal,
            case_id,
            body.filename,
            body.content_type,
            body.size_bytes,
            "upload",
            body.data_type,
        )
        upload = UploadInstructions.presign(
            self._objects,
            evidence.s3_key,
            content_type=body.content_type,
            max_bytes=self._max_bytes,
            expires_in=self._url_ttl,
        )
        return EvidenceAccepted(
            evidence_id=evidence.evidence_id,
            job_id=evidence.job_id,
            status=evidence.status,
            upload=upload,
        )

    def submit_text(
        self, principal: Principal, case_id: str, body: TextEvidenceRequest
    ) -> EvidenceAccepted:
        """Pasted output: stored as an object like any upload, so the same notification
        and pipeline process it."""
        return self.submit_bytes(
            principal,
            case_id,
            filename=body.filename,
            content_type="text/plain; charset=utf-8",
            data=body.content.encode("utf-8"),
            data_type=body.data_type,
            source="text",
        )

    def submit_bytes(
        self,
        principal: Principal,
        case_id: str,
        *,
        filename: str,
        content_type: str,
        data: bytes,
        data_type: DataType | None = None,
        source: str = "upload",
        deduplicate: bool = False,
    ) -> EvidenceAccepted:
        """A file that reached us in a request body (a chat turn's attachment): written to
        S3 server-side, so the same notification and pipeline process it as a presigned
        upload. With `deduplicate`, bytes the case already has (that did not fail) are
        that evidence again (`duplicate_of`), not a second copy."""
        self._require(principal, case_id, Access.WRITE, open_case=True)
        if not is_content_type(content_type):
            content_type = "application/octet-stream"  # a label from the client, not trusted
        if len(data) > self._max_bytes:
            raise PayloadTooLargeError(
                f"Uploads are limited to {self._max_bytes} bytes",
                details={"size_bytes": len(data), "max_bytes": self._max_bytes},
            )
        digest = hashlib.sha256(data).hexdigest()
        with self._db.session() as session:
            known = (
                store.same_content(
                    session, case_id, digest, pending_since=utcnow() - timedelta(minutes=5)
                )
                if deduplicate
                else None
            )
            if known is not None:  # sent again (a retried turn, the same log twice)
                return EvidenceAccepted(
                    evidence_id=known.evidence_id,
                    job_id=known.job_id,
                    status=known.status,
                    duplicate_of=known.evidence_id,
                )
        evidence = self._new_evidence(
            principal, case_id, filename, content_type, len(data), source, data_type, digest
        )
        try:
            self._objects.put(evidence.s3_key, data, content_type=content_type)
        except Exception:
            self.fail(evidence.evidence_id, "The file could not be stored; please try again")
            self._jobs.finish(evidence.job_id, error="The file could not be stored")
            raise
        return EvidenceAccepted(
            evidence_id=evidence.evidence_id, job_id=evidence.job_id, status=evidence.status
        )

    def _new_evidence(
        self,
        principal: Principal,
        case_id: str,
        filename: str,
        content_type: str,
        declared_size: int,
        source: str,
        data_type: Any,
        content_sha256: str | None = None,
    ) -> Evidence:
        evidence_id = new_id("evd")
        name = safe_filename(filename)
        job = self._jobs.create(case_id=case_id, evidence_id=evidence_id)
        now = utcnow()
        with self._db.session() as session:
            evidence = Evidence(
                evidence_id=evidence_id,
                case_id=case_id,
                uploaded_by=principal.user_id,
                filename=name,
                content_type=content_type,
                declared_size=declared_size,
                s3_key=artifact_key(case_id, evidence_id, name),
                source=source,
                status=EvidenceStatus.PENDING.value,
                job_id=job.job_id,
                data_type_override=data_type.value if data_type else None,
                content_sha256=content_sha256,
                insights=[],
                redaction_counts={},
                created_at=now,
                updated_at=now,
            )
            store.add(session, evidence)
            audit.record(
                session,
                actor_id=principal.user_id,
                action="evidence.created",
                object_type="evidence",
                object_id=evidence_id,
                case_id=case_id,
                details={"filename": name, "source": source},
            )
        return evidence

    # -- the S3 notification ---------------------------------------------------------
    def on_object_created(self, raw_key: str, size: int) -> str:
        """Start preprocessing for an uploaded artifact; say what happened. Unknown keys
        and repeated notifications change nothing."""
        key = unquote_plus(raw_key)
        parts = key.split("/", 3)
        if len(parts) != 4 or f"{parts[0]}/" != ARTIFACTS or not looks_like_id(parts[2], "evd"):
            logger.warning("upload notification for an unknown key", extra={"key": key[:300]})
            return "ignored"
        with self._db.session() as session:
            evidence = store.get(session, parts[2], for_update=True)
            if evidence is None or evidence.s3_key != key:
                logger.warning("upload notification without evidence", extra={"key": key[:300]})
                return "ignored"
            if evidence.status not in (
                EvidenceStatus.PENDING.value,
                EvidenceStatus.PROCESSING.value,
            ):
                return "duplicate"
            # PROCESSING again: a redelivered event, or the trigger's retry after a failed
            # start. Starting again is safe: a second execution of the same name is refused.
            evidence.size_bytes = size
            evidence.updated_at = utcnow()
            if size > self._max_bytes:
                # S3 enforces the presigned limit on AWS; moto does not, so check again.
                reason = f"The file is {size} bytes; uploads are limited to {self._max_bytes} bytes"
                evidence.status = EvidenceStatus.FAILED.value
                evidence.failure_reason = reason
                self._jobs.finish(evidence.job_id, error=reason)
                return "rejected"
            evidence.status = EvidenceStatus.PROCESSING.value
            payload: dict[str, Any] = {
                "evidence_id": evidence.evidence_id,
                "case_id": evidence.case_id,
                "job_id": evidence.job_id,
                "key": key,
                "size_bytes": size,
            }
        self._jobs.progress(str(payload["job_id"]), stage="starting", progress=5)
        started = self._workflow().start(str(payload["evidence_id"]), payload)
        return "started" if started else "duplicate"

    def resume_unfinished(self) -> int:
        """Start again every upload still marked processing (the local runtime's moto
        forgets running executions when it restarts); AWS never needs this."""
        with self._db.session() as session:
            rows = store.keys_in_status(session, EvidenceStatus.PROCESSING.value)
        resumed = 0
        for key in rows:
            size = self._objects.head(key)
            if size is not None and self.on_object_created(key, size) == "started":
                resumed += 1
        return resumed

    # -- reading -----------------------------------------------------------------------
    def get(self, principal: Principal, evidence_id: str) -> EvidenceDetail:
        with self._db.session() as session:
            evidence = self._readable(session, principal, evidence_id)
            return EvidenceDetail.model_validate(evidence)

    def status_of(self, principal: Principal, evidence_id: str) -> EvidenceOut:
        """The evidence without its extraction (polled while it is processed)."""
        with self._db.session() as session:
            return EvidenceOut.model_validate(self._readable(session, principal, evidence_id))

    def list_for_case(
        self, principal: Principal, case_id: str, page: PageRequest
    ) -> Page[EvidenceOut]:
        self._require(principal, case_id, Access.READ)
        with self._db.session() as session:
            rows, total = store.of_case(session, case_id, limit=page.page_size, offset=page.offset)
            return Page[EvidenceOut].of([EvidenceOut.model_validate(r) for r in rows], total, page)

    def download(self, principal: Principal, evidence_id: str) -> DownloadLink:
        with self._db.session() as session:
            evidence = self._readable(session, principal, evidence_id)
            key, filename = evidence.s3_key, evidence.filename
        if self._objects.head(key) is None:
            raise NotFoundError(
                "The file was never uploaded or has expired", error_code="ARTIFACT_NOT_FOUND"
            )
        return DownloadLink(
            url=self._objects.presign_get(key, filename=filename, expires_in=self._url_ttl),
            filename=filename,
            expires_at=utcnow() + timedelta(seconds=self._url_ttl),
        )

    def delete(self, principal: Principal, evidence_id: str) -> None:
        """The row and its chunks first (so nothing points at the files any more), then
        the artifact, its working files and its job."""
        with self._db.session() as session:
            evidence = self._readable(
                session, principal, evidence_id, needed=Access.WRITE, lock=True, open_case=True
            )
            key, job_id, case_id, filename = (
                evidence.s3_key,
                evidence.job_id,
                evidence.case_id,
                evidence.filename,
            )
            store.remove(session, evidence)  # its chunks go with it
            audit.record(
                session,
                actor_id=principal.user_id,
                action="evidence.deleted",
                object_type="evidence",
                object_id=evidence_id,
                case_id=case_id,
                details={"filename": filename},
            )
        self.discard_files(store.StoredEvidence(evidence_id, case_id, key, job_id, filename))

    def discard_files(self, *deleted: store.StoredEvidence) -> None:
        """What deleted evidence rows leave outside PostgreSQL: the artifacts, their
        working files, their jobs. Call it after the deletion committed: a failure here
        leaves unreferenced objects, which the bucket's lifecycle rule expires; the
        reverse order could lose a live artifact."""
        if deleted:
            self._objects.delete(*(item.s3_key for item in deleted))
        for item in deleted:
            try:
                self._events.publish(EvidenceDeleted(item.evidence_id))
            except Exception as exc:  # the row is gone: its chunks are never returned
                logger.error(
                    "could not delete the evidence's vectors",
                    extra={"evidence_id": item.evidence_id, "error": type(exc).__name__},
                )
            self._objects.delete_prefix(work_prefix(item.evidence_id))
            self._jobs.delete(item.job_id)

    def _readable(
        self,
        session: Any,
        principal: Principal,
        evidence_id: str,
        *,
        needed: Access = Access.READ,
        lock: bool = False,
        open_case: bool = False,
    ) -> Evidence:
        evidence = store.get(session, evidence_id, for_update=lock)
        if evidence is None:
            raise NotFoundError("Evidence not found", error_code="EVIDENCE_NOT_FOUND")
        try:
            self._require(principal, evidence.case_id, needed, open_case=open_case)
        except NotFoundError:
            raise NotFoundError("Evidence not found", error_code="EVIDENCE_NOT_FOUND") from None
        return evidence

    # -- what the preprocessing pipeline records -----------------------------------------
    def artifact_of(self, evidence_id: str) -> ArtifactRef:
        with self._db.session() as session:
            evidence = store.get(session, evidence_id)
            if evidence is None:
                raise NotFoundError("Evidence not found", error_code="EVIDENCE_NOT_FOUND")
            return ArtifactRef(
                key=evidence.s3_key,
                filename=evidence.filename,
                content_type=evidence.content_type,
                override=evidence.data_type_override,
            )

    def record_classification(
        self, evidence_id: str, data_type: str, details: dict[str, Any]
    ) -> None:
        self._update(evidence_id, data_type=data_type, classification=details)

    def record_result(
        self,
        evidence_id: str,
        *,
        summary: str,
        extraction: str,
        insights: list[str],
        pii_detected: bool,
        secrets_detected: bool,
        redaction_counts: dict[str, int],
        summary_origin: dict[str, Any] | None = None,
    ) -> None:
        self._update(
            evidence_id,
            summary=summary,
            summary_origin=summary_origin,
            extraction=extraction,
            insights=insights,
            pii_detected=pii_detected,
            secrets_detected=secrets_detected,
            redaction_counts=redaction_counts,
        )

    def replace_chunks(self, evidence_id: str, pieces: list[str]) -> int:
        """Store the sanitized pieces (the truth of the case's working memory), then
        embed them into the vector store when one is wired."""
        now = utcnow()
        with self._db.session() as session:
            evidence = store.get(session, evidence_id, for_update=True)
            if evidence is None:
                raise NotFoundError("Evidence not found", error_code="EVIDENCE_NOT_FOUND")
            case_id, filename = evidence.case_id, evidence.filename
            chunks = [
                EvidenceChunk(
                    chunk_id=new_id("chk"),
                    evidence_id=evidence_id,
                    case_id=case_id,
                    ordinal=ordinal,
                    content=piece,
                    created_at=now,
                )
                for ordinal, piece in enumerate(pieces)
            ]
            store.replace_chunks(session, evidence, chunks)
        self._events.publish(
            EvidenceChunksStored(
                case_id=case_id,
                evidence_id=evidence_id,
                source=filename,
                chunks=tuple((c.chunk_id, c.content) for c in chunks),
            )
        )
        return len(pieces)

    def complete(self, evidence_id: str) -> None:
        now = utcnow()
        self._update(
            evidence_id,
            status=EvidenceStatus.COMPLETED.value,
            completed_at=now,
            failure_reason=None,
        )
        with self._db.session() as session:
            evidence = store.get(session, evidence_id)
            if evidence is None:
                return
            processed = EvidenceProcessed(
                case_id=evidence.case_id,
                evidence_id=evidence_id,
                filename=evidence.filename,
                data_type=evidence.data_type,
                summary=evidence.summary or "",
                insights=tuple(evidence.insights or ()),
                uploaded_by=evidence.uploaded_by,
            )
        self._events.publish(processed)

    def fail(self, evidence_id: str, reason: str) -> None:
        self._update(evidence_id, status=EvidenceStatus.FAILED.value, failure_reason=reason)

    def _update(self, evidence_id: str, **values: Any) -> None:
        with self._db.session() as session:
            evidence = store.get(session, evidence_id, for_update=True)
            if evidence is None:
                # Deleted while processing: nothing left to record.
                logger.info(
                    "evidence vanished during preprocessing", extra={"evidence_id": evidence_id}
                )
                return
            for name, value in values.items():
                setattr(evidence, name, value)
            evidence.updated_at = utcnow()

    # -- retention: bounded batches in key order ----------------------------------------
    def expire_case_memory(
        self,
        closed_states: Collection[CaseStatus],
        cutoff: datetime,
        *,
        vector_lag: timedelta,
        after: str | None,
        limit: int,
        dry_run: bool,
    ) -> tuple[list[str], int, int]:
        """A closed case's working memory (its chunks), once the case has been closed
        for the period; chunks indexed after the closing get the same period from their
        own creation. One batch of cases holding chunks (ids after `after`): returns the
        case ids examined, how many of them were closed, and the chunks deleted (or that
        would be). The evidence rows, with their summaries and insights, stay."""
        with self._db.session() as session:
            ids = store.cases_with_chunks(session, after=after, limit=limit)
            if not ids:
                return ids, 0, 0
            closed = case_queries.closed_before(
                session, ids, closed_states, cutoff, lock=not dry_run
            )
            if not closed:
                return ids, 0, 0
            if dry_run:
                return ids, len(closed), store.count_chunks(session, closed, cutoff)
            # The vectors first, inside this transaction: if that fails, the chunks stay
            # and the next run finds the case again. A vector is indexed moments after
            # its chunk is stored, so its cutoff gets `vector_lag` of slack.
            for case_id in closed:
                self._events.publish(CaseMemoryExpired(case_id, cutoff + vector_lag))
            return ids, len(closed), store.delete_chunks(session, closed, cutoff)

    def expire_artifacts(
        self,
        closed_states: Collection[CaseStatus],
        cutoff: datetime,
        *,
        after: str | None,
        limit: int,
        dry_run: bool,
    ) -> tuple[str | None, int, int]:
        """Evidence created at or before `cutoff` in cases that are over (closed or
        deleted; an open investigation keeps its evidence). As `delete` does it: the row
        (its chunks cascade) and an audit event first, committed, then the files. One
        batch: returns the last id examined (None when there was nothing), how many were
        examined, and how many deleted (or would be)."""
        states = [s.value for s in closed_states]
        with self._db.session() as session:
            batch = store.created_before(session, cutoff, states, after=after, limit=limit)
            if not batch or dry_run:
                last = batch[-1].evidence_id if batch else None
                return last, len(batch), len(batch)
            gone = store.delete_created_before(
                session, [e.evidence_id for e in batch], cutoff, states
            )
            _record_deleted(session, gone, actor_id=None, reason="retention")
        self.discard_files(*gone)
        return batch[-1].evidence_id, len(batch), len(gone)

    # -- a user exporting their data or leaving (see privacy.service) ------------------
    def export_for_cases(self, case_ids: Collection[str]) -> list[tuple[dict[str, Any], str]]:
        """Every evidence of these cases as plain data, with its raw artifact's key."""
        with self._db.session() as session:
            return [
                (EvidenceDetail.model_validate(row).model_dump(mode="json"), row.s3_key)
                for row in store.of_cases(session, case_ids)
            ]

    def read_artifact(self, key: str) -> bytes | None:
        """A raw artifact, whole (uploads are size-limited); None when it is gone."""
        if self._objects.head(key) is None:
            return None
        return self._objects.read(key, max_bytes=self._max_bytes)

    def erase_for_cases(self, case_ids: Collection[str], *, actor_id: str) -> int:
        """Delete every evidence of these cases: rows (and their chunks) first, then the
        files, as `delete` does."""
        with self._db.session() as session:
            gone = store.delete_of_cases(session, case_ids)
            _record_deleted(session, gone, actor_id=actor_id, reason="account deleted")
        self.discard_files(*gone)
        return len(gone)


def _record_deleted(
    session: Session, gone: list[store.StoredEvidence], *, actor_id: str | None, reason: str
) -> None:
    """One audit event per evidence row a sweep deleted (retention, account erasure)."""
    for item in gone:
        audit.record(
            session,
            actor_id=actor_id,
            action="evidence.deleted",
            object_type="evidence",
            object_id=item.evidence_id,
            case_id=item.case_id,
            details={"filename": item.filename, "reason": reason},
        )
