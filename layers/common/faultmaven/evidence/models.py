"""Evidence API models."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from faultmaven.core.clock import utcnow
from faultmaven.core.models import Line, RequestModel, StrictInt, replace_hidden_characters
from faultmaven.core.ports import ObjectStore
from faultmaven.preprocessing.models import DataType

MAX_TEXT_BYTES = 900 * 1024  # pasted text travels in a JSON body capped at 1 MiB
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(?:\s*;\s*[\w.+-]+=[\w.+\"-]+)*$")
MAX_CONTENT_TYPE = 255


def is_content_type(value: str) -> bool:
    """A MIME type such as `text/plain; charset=utf-8` that fits its column."""
    return len(value) <= MAX_CONTENT_TYPE and bool(_CONTENT_TYPE.match(value))


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


class EvidenceStatus(StrEnum):
    PENDING = "pending"  # waiting for the bytes
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


def safe_filename(name: str) -> str:
    """The last path component, without control, invisible or shell-hostile characters,
    so a name like `../../etc/passwd` or one with a newline can neither escape the case's
    prefix nor break a header, and one with a right-to-left override cannot pose as
    another file type in a download dialog."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = replace_hidden_characters(_UNSAFE.sub("_", base), "_").strip().lstrip(".")
    # S3 keys are capped at 1024 bytes: keep the name to 200 bytes of UTF-8.
    capped = cleaned.encode("utf-8")[:200].decode("utf-8", errors="ignore")
    return capped or "upload"


class UploadRequest(RequestModel):
    filename: Line = Field(min_length=1, max_length=1024)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    size_bytes: StrictInt = Field(ge=0, description="the size the client is about to send")
    data_type: DataType | None = Field(default=None, description="override the classifier")

    @field_validator("content_type")
    @classmethod
    def _mime(cls, value: str) -> str:
        if not _CONTENT_TYPE.match(value):
            raise ValueError("must be a MIME type such as text/plain")
        return value


class TextEvidenceRequest(RequestModel):
    """`content` is the artifact itself (pasted command output), kept byte for byte like an
    uploaded file: terminal escapes and odd characters in a log are evidence, and it is
    never shown as a label. Its file name is a label."""

    content: str = Field(min_length=1)
    filename: Line = Field(default="pasted.txt", min_length=1, max_length=1024)
    data_type: DataType | None = None

    @field_validator("content")
    @classmethod
    def _size(cls, value: str) -> str:
        if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ValueError(f"must be at most {MAX_TEXT_BYTES} bytes; upload larger files")
        return value


class UploadInstructions(BaseModel):
    """Exactly how to send the bytes: a multipart/form-data POST of `fields` followed by
    the file as the `file` field, to `url`."""

    method: str = "POST"
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: datetime

    @classmethod
    def presign(
        cls, objects: ObjectStore, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> UploadInstructions:
        """A presigned POST form for `key` (evidence artifacts, large KB documents)."""
        form = objects.presign_post(
            key, content_type=content_type, max_bytes=max_bytes, expires_in=expires_in
        )
        return cls(
            url=form["url"],
            fields={str(k): str(v) for k, v in form["fields"].items()},
            max_bytes=max_bytes,
            expires_at=utcnow() + timedelta(seconds=expires_in),
        )


class EvidenceAccepted(BaseModel):
    evidence_id: str
    job_id: str
    status: str
    upload: UploadInstructions | None = None
    duplicate_of: str | None = Field(
        default=None, description="the case already had these bytes: this is that evidence"
    )


class EvidenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evidence_id: str
    case_id: str
    uploaded_by: str | None
    filename: str
    content_type: str
    size_bytes: int | None
    source: str
    status: EvidenceStatus
    failure_reason: str | None
    job_id: str
    data_type: DataType | None
    classification: dict[str, Any] | None
    summary: str | None
    # source: "model" | "offline" | "deterministic"; provider and model when one answered;
    # fallback_reason when a model was asked and its answer was not used.
    summary_origin: dict[str, Any] | None = None
    insights: list[str]
    pii_detected: bool
    secrets_detected: bool
    redaction_counts: dict[str, int]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class EvidenceDetail(EvidenceOut):
    extraction: str | None


class DownloadLink(BaseModel):
    url: str
    filename: str
    expires_at: datetime
