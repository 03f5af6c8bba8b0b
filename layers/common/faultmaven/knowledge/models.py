"""Knowledge API and domain models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from faultmaven.core.models import Line, PatchModel, RequestModel, StrictInt, Text, VerbatimText
from faultmaven.core.vectors import Scope
from faultmaven.evidence.models import UploadInstructions

MAX_K = 50


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


# Stored exactly as sent (request models trim other strings).
Content = Annotated[VerbatimText, StringConstraints(min_length=1), AfterValidator(_not_blank)]


class Visibility(StrEnum):
    """Who reads a user document besides its owner and the grantees of its shares."""

    PRIVATE = "private"  # the owner only (a document with shares cannot be private)
    SHARED = "shared"  # the owner and the grantees of its shares
    TEAM = "team"  # ... and every member of its team
    ORGANIZATION = "organization"  # ... and every member of its organization


class ContentType(StrEnum):
    MARKDOWN = "text/markdown"
    PLAIN = "text/plain"


class DocumentStatus(StrEnum):
    PENDING = "pending"  # waiting for its file (uploaded documents)
    READY = "ready"  # chunked and searchable
    FAILED = "failed"  # the uploaded file could not be used; see failure_reason


class GranteeType(StrEnum):
    USER = "user"
    TEAM = "team"
    ORGANIZATION = "organization"


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"


class DocumentCreate(RequestModel):
    title: Line = Field(min_length=1, max_length=200)
    content: Content = Field(description="markdown or plain text")
    content_type: ContentType = ContentType.MARKDOWN
    tags: list[str] = Field(default_factory=list, max_length=20)
    visibility: Visibility = Visibility.PRIVATE
    team_id: str | None = Field(default=None, min_length=1, max_length=40)
    org_id: str | None = Field(default=None, min_length=1, max_length=40)

    _tags = field_validator("tags")(lambda tags: _clean_tags(tags))


class GlobalDocumentCreate(RequestModel):
    title: Line = Field(min_length=1, max_length=200)
    content: Content
    content_type: ContentType = ContentType.MARKDOWN
    tags: list[str] = Field(default_factory=list, max_length=20)
    slug: str | None = Field(default=None, min_length=1, max_length=120, pattern=r"^[a-z0-9-]+$")

    _tags = field_validator("tags")(lambda tags: _clean_tags(tags))


class DocumentUpdate(PatchModel):
    clearable: ClassVar[frozenset[str]] = frozenset({"team_id", "org_id"})

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    content: Content | None = None
    content_type: ContentType | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    visibility: Visibility | None = None
    team_id: str | None = Field(default=None, min_length=1, max_length=40)
    org_id: str | None = Field(default=None, min_length=1, max_length=40)

    _tags = field_validator("tags")(lambda tags: None if tags is None else _clean_tags(tags))


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = tag.strip().lower()
        if not tag or len(tag) > 64 or not all(c.isalnum() or c in "._:/-" for c in tag):
            raise ValueError(f"invalid tag {tag!r}: letters, digits and . _ : / - only")
        cleaned.append(tag)
    return list(dict.fromkeys(cleaned))


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    document_id: str
    scope: Scope
    title: str
    owner_id: str | None
    content_type: ContentType
    visibility: Visibility
    team_id: str | None
    org_id: str | None
    tags: list[str]
    slug: str | None = None
    status: DocumentStatus
    failure_reason: str | None = None
    chunk_count: int
    size_bytes: int
    content_hash: str
    embedding_model: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    my_permission: str = Field(description="read, write or manage")


class DocumentDetail(DocumentOut):
    content: str


class DocumentUploadRequest(RequestModel):
    """A document too large to post inline: its file goes straight to S3."""

    title: Line = Field(min_length=1, max_length=200)
    filename: Line = Field(min_length=1, max_length=255)
    content_type: ContentType = ContentType.MARKDOWN
    size_bytes: StrictInt = Field(ge=1)
    tags: list[str] = Field(default_factory=list, max_length=20)
    visibility: Visibility = Visibility.PRIVATE
    team_id: str | None = Field(default=None, min_length=1, max_length=40)
    org_id: str | None = Field(default=None, min_length=1, max_length=40)

    _tags = field_validator("tags")(lambda tags: _clean_tags(tags))


class DocumentUploadAccepted(BaseModel):
    document: DocumentOut
    upload: UploadInstructions


class ShareCreate(RequestModel):
    grantee_type: GranteeType
    grantee_id: str = Field(min_length=1, max_length=40)
    permission: Permission = Permission.READ


class ShareOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    share_id: str
    document_id: str
    grantee_type: GranteeType
    grantee_id: str
    permission: Permission
    created_by: str
    created_at: datetime


class SearchFilters(RequestModel):
    document_ids: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)

    # Compared with stored tags, so read the way those were written.
    _tags = field_validator("tags")(lambda tags: _clean_tags(tags))


class SearchRequest(RequestModel):
    query: Text = Field(min_length=1, max_length=2000)
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.USER, Scope.GLOBAL], min_length=1, max_length=3
    )
    case_id: str | None = Field(default=None, min_length=1, max_length=40)
    k: StrictInt = Field(default=5, ge=1, le=MAX_K)
    filters: SearchFilters = Field(default_factory=SearchFilters)

    @model_validator(mode="after")
    def _case_scope_needs_a_case(self) -> Self:
        if Scope.CASE in self.scopes and self.case_id is None:
            raise ValueError("case_id is required to search the case scope")
        if self.case_id is not None and Scope.CASE not in self.scopes:
            raise ValueError("case_id is given but the case scope is not searched")
        self.scopes = list(dict.fromkeys(self.scopes))
        return self


class SearchHit(BaseModel):
    document_id: str = Field(description="the KB document, or the evidence of a case")
    chunk_id: str
    scope: Scope
    title: str
    text: str
    score: float = Field(
        description="relevance after fusing vector and text ranks; higher is better"
    )
    similarity: float | None = Field(
        description="cosine similarity to the query, when the vector search found it"
    )
    source: str
    heading_path: list[str]
    case_id: str | None = None


class SearchResponse(BaseModel):
    items: list[SearchHit]
    model: str = Field(description="the embedding model that ranked the results")
