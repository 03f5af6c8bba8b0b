"""The preprocessing steps, one method per state of `preprocessing.asl.json`.

Each step takes the execution's state (ids and object keys only: no artifact content ever
travels through Step Functions, whose history would keep it) and returns it extended.
Extract redacts the artifact's full text first and analyses only the redacted text (see
extract.py: masking or templating a secret before redaction would hide it from the
detectors); it writes its result, with the file's redaction counts, to a work object.
Redact redacts every derived text once more (idempotent: a second line of defence for
whatever an analyzer adds) and caps it, before anything is stored in PostgreSQL, indexed,
or shown.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from faultmaven.core.errors import LLMUnavailableError
from faultmaven.core.logging import logger, scrub_text
from faultmaven.core.ports import ObjectStore
from faultmaven.core.storage import work_prefix
from faultmaven.evidence.service import EvidenceService
from faultmaven.jobs.service import JobService
from faultmaven.preprocessing.artifacts import gunzip, head_sample, is_gzip
from faultmaven.preprocessing.errors import InvalidArtifactError, StepFailedError, TransientError
from faultmaven.preprocessing.extract import (
    MAX_EXTRACTION_BYTES,
    MAX_SUMMARY_CHARS,
    Extraction,
    cap_bytes,
    cap_chars,
    chunk_text,
    extract,
)
from faultmaven.preprocessing.models import DataType
from faultmaven.preprocessing.summarize import Summarizer

State = dict[str, Any]
SAMPLE_BYTES = 64 * 1024
WORK_READ_LIMIT = 1024 * 1024  # extraction JSON: ≤ 8 KB of text plus insights
_USER_FACING = {"InvalidArtifactError"}


_TRANSIENT = {
    "sqlalchemy.exc": {"OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError"},
    "redis.exceptions": {"ConnectionError", "TimeoutError", "BusyLoadingError"},
    "botocore.exceptions": {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    },
}
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "ServiceUnavailable",
}


def is_transient(exc: BaseException) -> bool:
    """A store briefly unreachable or throttling: worth the state machine's Retry. Found by
    class name, so this module imports none of the vendor SDKs."""
    if isinstance(exc, LLMUnavailableError):  # every provider failed: the ASL retries later
        return True
    for cls in type(exc).__mro__:
        if cls.__name__ in _TRANSIENT.get(cls.__module__, set()):
            return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in _THROTTLING


def step_errors(step: Callable[[Any, State], State]) -> Callable[[Any, State], State]:
    """What a step's failure looks like to Step Functions: `TransientError` (retried),
    `InvalidArtifactError` (its message is the user's reason), or `StepFailedError`
    naming the original error with a redacted message."""

    @functools.wraps(step)
    def run(self: Any, state: State) -> State:
        try:
            return step(self, state)
        except (InvalidArtifactError, TransientError, StepFailedError):
            raise
        except Exception as exc:
            if is_transient(exc):
                raise TransientError(f"{type(exc).__name__} in {step.__name__}") from None
            from faultmaven.preprocessing.redact import redact

            logger.exception("preprocessing step failed", extra={"step": step.__name__})
            message = redact(str(exc)).text[:500]
            raise StepFailedError(f"{type(exc).__name__}: {message}") from None

    return run


class PreprocessingSteps:
    def __init__(
        self,
        evidence: EvidenceService,
        objects: ObjectStore,
        jobs: JobService,
        *,
        max_bytes: int,
        summarizer: Summarizer | None = None,
    ) -> None:
        self._evidence = evidence
        self._objects = objects
        self._jobs = jobs
        self._summarizer = summarizer or Summarizer(None, None)
        self._read_limit = max_bytes + 1024 * 1024  # the trigger already refused larger files

    @step_errors
    def classify(self, state: State) -> State:
        from faultmaven.preprocessing.classify import classify
        from faultmaven.preprocessing.redact import redact

        artifact = self._evidence.artifact_of(state["evidence_id"])
        sample = head_sample(
            self._objects.read(artifact.key, max_bytes=SAMPLE_BYTES * 4), SAMPLE_BYTES
        )
        override = DataType(artifact.override) if artifact.override else None
        result = classify(artifact.filename, artifact.content_type, sample, override=override)
        details = result.model_dump(mode="json")
        # Signals quote the content (a shebang, a key name): they are stored, so redacted.
        details["signals"] = [redact(signal).text for signal in details.get("signals", [])]
        self._evidence.record_classification(state["evidence_id"], result.data_type.value, details)
        self._progress(state, "classified", 20)
        return {**state, "data_type": result.data_type.value, "confidence": result.confidence}

    @step_errors
    def extract_logs(self, state: State) -> State:
        """Logs get the analyzer; a "log" that turns out to be binary by the shared
        text/binary rule gets the generic description instead."""
        return self._store_raw(state, extract(DataType.LOGS_AND_ERRORS, self._content(state)))

    @step_errors
    def extract_generic(self, state: State) -> State:
        data_type = DataType(state["data_type"])
        return self._store_raw(state, extract(data_type, self._content(state)))

    def _store_raw(self, state: State, extraction: Extraction) -> State:
        raw_key = f"{work_prefix(state['evidence_id'])}extraction.raw.json"
        self._objects.put(
            raw_key, json.dumps(asdict(extraction)).encode(), content_type="application/json"
        )
        self._progress(state, "extracted", 45)
        return {**state, "raw_key": raw_key}

    @step_errors
    def redact(self, state: State) -> State:
        from faultmaven.preprocessing.redact import PII_KINDS, redact

        raw = Extraction(
            **json.loads(self._objects.read(state["raw_key"], max_bytes=WORK_READ_LIMIT))
        )
        # The whole file's findings, plus any an analyzer's own wording would add.
        counts: dict[str, int] = dict(raw.redaction_counts)

        def clean(text: str) -> str:
            result = redact(text)
            for kind, count in result.counts.items():
                counts[kind] = counts.get(kind, 0) + count
            return str(result.text)

        # Placeholders can be longer than what they replace: cap again afterwards.
        sanitized = Extraction(
            kind=raw.kind,
            summary=cap_chars(clean(raw.summary), MAX_SUMMARY_CHARS),
            extraction=cap_bytes(clean(raw.extraction), MAX_EXTRACTION_BYTES),
            insights=[clean(insight) for insight in raw.insights],
            stats=raw.stats,
            redaction_counts=counts,
        )
        secrets = any(kind not in PII_KINDS for kind in counts)
        pii = any(kind in PII_KINDS for kind in counts)
        clean_key = f"{work_prefix(state['evidence_id'])}extraction.json"
        self._objects.put(
            clean_key, json.dumps(asdict(sanitized)).encode(), content_type="application/json"
        )
        # The raw extraction stays until Finalize clears work/: a retried Redact re-reads it.
        self._progress(state, "redacted", 65)
        return {
            **{k: v for k, v in state.items() if k != "raw_key"},
            "clean_key": clean_key,
            "redaction": {"secrets_detected": secrets, "pii_detected": pii, "counts": counts},
        }

    @step_errors
    def summarize(self, state: State) -> State:
        """The model's summary when a provider is configured, else (or on any failure)
        the analyzer's deterministic one; the evidence records which (summary.py)."""
        extraction = self._sanitized(state)
        redaction = state["redaction"]
        artifact = self._evidence.artifact_of(state["evidence_id"])
        summary = self._summarizer.summarize(
            evidence_id=state["evidence_id"],
            case_id=state["case_id"],
            data_type=str(state.get("data_type", "unknown")),
            filename=artifact.filename,
            extraction=extraction,
        )
        self._evidence.record_result(
            state["evidence_id"],
            summary=summary.summary,
            summary_origin=summary.origin,
            extraction=extraction.extraction,
            insights=summary.insights,
            pii_detected=redaction["pii_detected"],
            secrets_detected=redaction["secrets_detected"],
            redaction_counts=redaction["counts"],
        )
        self._progress(state, "summarized", 80)
        return state

    @step_errors
    def index(self, state: State) -> State:
        extraction = self._sanitized(state)
        pieces = chunk_text(extraction.summary + "\n\n" + extraction.extraction)
        count = self._evidence.replace_chunks(state["evidence_id"], pieces)
        self._progress(state, "indexed", 95)
        return {**state, "chunks": count}

    @step_errors
    def finalize(self, state: State) -> State:
        self._evidence.complete(state["evidence_id"])
        self._jobs.finish(state["job_id"])
        self._objects.delete_prefix(work_prefix(state["evidence_id"]))
        return {
            "evidence_id": state["evidence_id"],
            "status": "completed",
            "chunks": state.get("chunks", 0),
        }

    @step_errors
    def mark_failed(self, state: State) -> State:
        """Catch-all: the evidence fails with a reason, the raw artifact stays."""
        reason = failure_reason(state.get("error") or {})
        self._evidence.fail(state["evidence_id"], reason)
        self._jobs.finish(state["job_id"], error=reason)
        self._objects.delete_prefix(work_prefix(state["evidence_id"]))
        logger.warning(
            "preprocessing failed", extra={"evidence_id": state["evidence_id"], "reason": reason}
        )
        return {"evidence_id": state["evidence_id"], "status": "failed", "reason": reason}

    def _content(self, state: State) -> bytes:
        data = self._objects.read(state["key"], max_bytes=self._read_limit)
        return gunzip(data) if is_gzip(data) else data

    def _sanitized(self, state: State) -> Extraction:
        return Extraction(
            **json.loads(self._objects.read(state["clean_key"], max_bytes=WORK_READ_LIMIT))
        )

    def _progress(self, state: State, stage: str, progress: int) -> None:
        self._jobs.progress(state["job_id"], stage=stage, progress=progress)


def failure_reason(error: dict[str, Any]) -> str:
    """A sentence for the user from the Catch payload `{"Error": ..., "Cause": ...}`."""
    name = str(error.get("Error", "Error"))
    cause = error.get("Cause", "")
    message = cause
    try:
        parsed = json.loads(cause) if isinstance(cause, str) and cause.startswith("{") else None
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage", "")
        name = str(parsed.get("errorType", name))
    from faultmaven.preprocessing.redact import redact

    message = redact(scrub_text(str(message))).text[:500]
    if name in _USER_FACING and message:
        return message
    if name == "StepFailedError" and message:
        return f"Processing failed: {message}"[:600]
    return f"Processing failed ({name}){': ' + message if message else ''}"[:600]


__all__ = ["InvalidArtifactError", "PreprocessingSteps", "failure_reason"]
