"""SQLAlchemy tables: the durable truth. Alembic migrations in `db/migrations` create them;
a test checks the two never drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(40)
TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{user}")
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    is_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    last_login_at: Mapped[datetime | None] = mapped_column(TS)
    password_changed_at: Mapped[datetime | None] = mapped_column(TS)
    deletion_requested_at: Mapped[datetime | None] = mapped_column(TS)
    deleted_at: Mapped[datetime | None] = mapped_column(TS)
    # Every token of the user issued before this instant is refused (deactivation, role
    # change, deletion): the durable form of "sign this user out everywhere".
    tokens_not_before: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        # Uniqueness ignores case and soft-deleted accounts, so an address can be reused.
        Index(
            "uq_users_email_live",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "uq_users_username_live",
            text("lower(username)"),
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class RefreshToken(Base):
    """Every refresh token issued, so rotation is exactly-once and survives the cache:
    a token is good only while its row exists and is not spent."""

    __tablename__ = "refresh_tokens"

    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.user_id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS, index=True)
    # Rotated (refresh) or revoked (logout): never usable again.
    spent_at: Mapped[datetime | None] = mapped_column(TS)


class RevokedAccessToken(Base):
    """Access tokens revoked before they expire (logout). Redis caches the answer; this
    is the truth a cold or flushed cache falls back on."""

    __tablename__ = "revoked_access_tokens"

    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.user_id", ondelete="CASCADE"), index=True
    )
    revoked_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS, index=True)


class Organization(Base):
    __tablename__ = "organizations"

    org_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    created_at: Mapped[datetime] = mapped_column(TS)


class Team(Base):
    __tablename__ = "teams"

    team_id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.org_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_teams_org_name"),)


class Membership(Base):
    """A user's membership of an organization (team_id NULL) or of one of its teams."""

    __tablename__ = "memberships"

    membership_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.org_id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.team_id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        UniqueConstraint(
            "user_id",
            "org_id",
            "team_id",
            name="uq_memberships_scope",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_memberships_user", "user_id"),
    )


class Case(Base):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    visibility: Mapped[str] = mapped_column(String(16), server_default="private")
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.org_id"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.team_id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    status_changed_at: Mapped[datetime] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)
    deleted_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        Index("ix_cases_owner", "owner_id", "updated_at"),
        Index("ix_cases_team", "team_id"),
        Index("ix_cases_org", "org_id"),
    )


class CaseParticipant(Base):
    __tablename__ = "case_participants"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.case_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(ForeignKey("users.user_id"))
    added_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_case_participants_user", "user_id"),)


class CaseMessage(Base):
    __tablename__ = "case_messages"

    message_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    type: Mapped[str] = mapped_column(String(24))
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_case_messages_case", "case_id", "created_at"),)


class Hypothesis(Base):
    __tablename__ = "hypotheses"

    hypothesis_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    statement: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(16))
    rationale: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(16))
    initial_likelihood: Mapped[float] = mapped_column(Float)
    likelihood: Mapped[float] = mapped_column(Float)
    supporting_evidence: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    refuting_evidence: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    turns_without_progress: Mapped[int] = mapped_column(Integer, server_default="0")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    concluded_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        CheckConstraint("likelihood >= 0 AND likelihood <= 1", name="likelihood_range"),
        Index("ix_hypotheses_case", "case_id", "created_at"),
    )


class Solution(Base):
    __tablename__ = "solutions"

    solution_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    hypothesis_id: Mapped[str | None] = mapped_column(
        ForeignKey("hypotheses.hypothesis_id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    steps: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    risk_level: Mapped[str] = mapped_column(String(16), server_default="medium")
    outcome: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    applied_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (Index("ix_solutions_case", "case_id", "created_at"),)


class CaseStatusTransition(Base):
    __tablename__ = "case_status_transitions"

    transition_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_case_status_transitions_case", "case_id", "created_at"),)


class AuditEvent(Base):
    """Who did what to which object, kept for a year (retention issue)."""

    __tablename__ = "audit_events"

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    actor_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id", "created_at"),
        Index("ix_audit_events_case", "case_id", "created_at"),
        Index("ix_audit_events_created", "created_at"),
    )


class Evidence(Base):
    """An uploaded artifact: the raw bytes stay in S3; this row holds what the
    preprocessing pipeline learned from them, already redacted."""

    __tablename__ = "evidence"

    evidence_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    uploaded_by: Mapped[str | None] = mapped_column(ForeignKey("users.user_id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    declared_size: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    s3_key: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(16), server_default="upload")
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str] = mapped_column(String(40))
    data_type: Mapped[str | None] = mapped_column(String(32))
    data_type_override: Mapped[str | None] = mapped_column(String(32))
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    summary: Mapped[str | None] = mapped_column(Text)
    # How the summary was made (model, offline analyst, deterministic fallback and why).
    summary_origin: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    extraction: Mapped[str | None] = mapped_column(Text)
    insights: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    pii_detected: Mapped[bool] = mapped_column(server_default=text("false"))
    secrets_detected: Mapped[bool] = mapped_column(server_default=text("false"))
    redaction_counts: Mapped[dict[str, int]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    completed_at: Mapped[datetime | None] = mapped_column(TS)
    # SHA-256 of the bytes when the server received them itself (a chat turn's
    # attachment): the same file sent again to the case is the evidence it already has.
    content_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_evidence_case", "case_id", "created_at"),
        Index(
            "ix_evidence_case_content",
            "case_id",
            "content_sha256",
            postgresql_where=text("content_sha256 IS NOT NULL"),
        ),
        UniqueConstraint("s3_key", name="uq_evidence_s3_key"),
    )


class EvidenceChunk(Base):
    """A piece of the sanitized extraction, the unit of the case's working memory (vectors
    arrive with the knowledge issue)."""

    __tablename__ = "evidence_chunks"

    chunk_id: Mapped[str] = mapped_column(ID, primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.evidence_id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        UniqueConstraint("evidence_id", "ordinal", name="uq_evidence_chunks_ordinal"),
        Index("ix_evidence_chunks_case", "case_id"),
    )


class KnowledgeDocument(Base):
    """A knowledge base article: a user's runbook (shareable) or a global KB article.
    The text is the source of truth; its chunks and vectors can always be rebuilt."""

    __tablename__ = "kb_documents"

    document_id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    # None for global articles loaded by `faultmaven kb seed` (no user wrote them).
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    visibility: Mapped[str] = mapped_column(String(16), server_default="private")
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.team_id", ondelete="SET NULL"))
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.org_id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    slug: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, server_default="0")
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        Index("ix_kb_documents_owner", "owner_id", "updated_at"),
        Index("ix_kb_documents_team", "team_id"),
        Index("ix_kb_documents_org", "org_id"),
        # The seed loads global articles by slug, so running it twice updates in place.
        Index(
            "uq_kb_documents_global_slug",
            "slug",
            unique=True,
            postgresql_where=text("scope = 'global' AND slug IS NOT NULL"),
        ),
    )


class KnowledgeShare(Base):
    """A grant of a user document to a user, a team or an organization."""

    __tablename__ = "kb_shares"

    share_id: Mapped[str] = mapped_column(ID, primary_key=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("kb_documents.document_id", ondelete="CASCADE")
    )
    grantee_type: Mapped[str] = mapped_column(String(16))
    grantee_id: Mapped[str] = mapped_column(ID)
    permission: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        UniqueConstraint("document_id", "grantee_type", "grantee_id", name="uq_kb_shares_grantee"),
        Index("ix_kb_shares_grantee", "grantee_type", "grantee_id"),
    )


class VectorIndex(Base):
    """Which model and dimension built the pgvector index; a mismatch is refused."""

    __tablename__ = "vector_index"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    dimension: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TS)


class VectorChunk(Base):
    """A searchable chunk (pgvector backend). The column is dimensionless so one schema
    serves any model; the HNSW index is an expression index on `embedding::vector(n)`,
    created by the adapter for the dimension recorded in `vector_index`."""

    __tablename__ = "vector_chunks"

    # `<document id>-<ordinal>` for KB chunks: wider than the 40 of other ids.
    chunk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(ID)
    scope: Mapped[str] = mapped_column(String(16))
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), server_default="")
    heading_path: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    # The heading path as text, so full-text search finds words of section titles too
    # (a generated column cannot flatten the array: array_to_string is not immutable).
    headings: Mapped[str] = mapped_column(Text, server_default="")
    source: Mapped[str] = mapped_column(Text, server_default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    owner_id: Mapped[str | None] = mapped_column(ID)
    case_id: Mapped[str | None] = mapped_column(ID)
    readers: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[Any] = mapped_column(Vector())
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english', title || ' ' || headings || ' ' || text)", persisted=True),
    )
    indexed_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        Index("ix_vector_chunks_document", "document_id"),
        Index("ix_vector_chunks_case", "case_id", "indexed_at"),
        Index("ix_vector_chunks_owner", "owner_id"),
        Index("ix_vector_chunks_readers", "readers", postgresql_using="gin"),
        Index("ix_vector_chunks_search", "search", postgresql_using="gin"),
    )


class ProtectionEvent(Base):
    """What rate limiting and reputation refused or changed, kept 30 days for forensics
    (retention). Repeats within one flush are one row with a count. No foreign key to
    users: a security record must be writable whatever became of the account."""

    __tablename__ = "protection_events"

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TS)
    last_at: Mapped[datetime] = mapped_column(TS)
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    # A user id, or the client address in clear (what an investigation needs).
    subject: Mapped[str] = mapped_column(String(64))
    route_class: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    previous_level: Mapped[str | None] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (
        Index("ix_protection_events_subject", "scope", "subject", "occurred_at"),
        Index("ix_protection_events_last_at", "last_at"),
    )


class HistorySession(Base):
    """One investigation or preprocessing run (TARSy's alert session, EP-0010). Times are
    microseconds since the epoch, as EP-0010 has them. It follows its case (CASCADE); the
    user who started it may go (SET NULL) without taking the audit record along."""

    __tablename__ = "history_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.user_id", ondelete="SET NULL"))
    agent_type: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[str | None] = mapped_column(String(128))
    alert_type: Mapped[str | None] = mapped_column(String(128))
    alert_data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    status: Mapped[str] = mapped_column(String(16))
    started_at_us: Mapped[int] = mapped_column(BigInteger)
    completed_at_us: Mapped[int | None] = mapped_column(BigInteger)
    error_message: Mapped[str | None] = mapped_column(Text)
    final_analysis: Mapped[str | None] = mapped_column(Text)
    session_metadata: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    chain_id: Mapped[str] = mapped_column(String(128))
    chain_definition: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    current_stage_index: Mapped[int | None] = mapped_column(Integer)
    current_stage_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_history_sessions_case", "case_id", "started_at_us"),
        Index("ix_history_sessions_owner", "owner_id"),
        Index("ix_history_sessions_started", "started_at_us", "id"),
        Index("ix_history_sessions_status", "status", "started_at_us"),
        Index("ix_history_sessions_agent_type", "agent_type", "started_at_us"),
        Index("ix_history_sessions_alert_type", "alert_type", "started_at_us"),
        # Retention: finished (or, never finished, started) before the cutoff.
        Index("ix_history_sessions_retention", text("coalesce(completed_at_us, started_at_us)")),
    )


class HistoryStage(Base):
    """One stage (an investigation phase, a pipeline step) of a history session."""

    __tablename__ = "history_stages"

    execution_id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("history_sessions.id", ondelete="CASCADE"))
    stage_id: Mapped[str] = mapped_column(String(128))
    stage_index: Mapped[int] = mapped_column(Integer)
    stage_name: Mapped[str] = mapped_column(String(200))
    agent: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    started_at_us: Mapped[int | None] = mapped_column(BigInteger)
    completed_at_us: Mapped[int | None] = mapped_column(BigInteger)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    stage_output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_history_stages_session", "session_id", "stage_index"),)


class HistoryLLMInteraction(Base):
    """One language-model call, its request as it left the process (redacted), its
    response, tokens by kind and cost. Written whether the call succeeded or not."""

    __tablename__ = "history_llm_interactions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("history_sessions.id", ondelete="CASCADE"))
    stage_execution_id: Mapped[str | None] = mapped_column(
        ForeignKey("history_stages.execution_id", ondelete="SET NULL")
    )
    timestamp_us: Mapped[int] = mapped_column(BigInteger)
    step_description: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(200))
    temperature: Mapped[float | None] = mapped_column(Float)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    input_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cache_creation_input_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cache_read_input_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    # Exact in the database (sums for budgets); a float in Python, which is all a price
    # estimate needs.
    cost_usd: Mapped[float] = mapped_column(Numeric(14, 6, asdecimal=False), server_default="0")
    duration_ms: Mapped[int] = mapped_column(Integer)
    success: Mapped[bool]
    error_message: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_history_llm_interactions_session", "session_id", "timestamp_us"),
        Index("ix_history_llm_interactions_stage", "stage_execution_id"),
    )


class HistoryToolInteraction(Base):
    """One tool call: `server_name` is `faultmaven` for built-in tools, or an MCP
    server's name."""

    __tablename__ = "history_tool_interactions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("history_sessions.id", ondelete="CASCADE"))
    stage_execution_id: Mapped[str | None] = mapped_column(
        ForeignKey("history_stages.execution_id", ondelete="SET NULL")
    )
    timestamp_us: Mapped[int] = mapped_column(BigInteger)
    step_description: Mapped[str] = mapped_column(Text)
    server_name: Mapped[str] = mapped_column(String(128))
    tool_name: Mapped[str] = mapped_column(String(128))
    communication_type: Mapped[str] = mapped_column(String(32))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    available_tools: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    duration_ms: Mapped[int] = mapped_column(Integer)
    success: Mapped[bool]
    error_message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_history_tool_interactions_session", "session_id", "timestamp_us"),
        Index("ix_history_tool_interactions_stage", "stage_execution_id"),
    )


class HistorySpend(Base):
    """Running totals of model spend per case (`case:<id>`) and per history session
    (`session:<id>`), kept by the recorder in the transaction that stores each LLM
    interaction: a budget check reads two rows, however long the case has run. A case's
    totals outlive the retention of its sessions, so its budget keeps counting."""

    __tablename__ = "history_spend"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Numeric(16, 6, asdecimal=False), server_default="0")


class AgentMemory(Base):
    """The agent's hierarchical memory of one case (hot, warm, cold tiers and persistent
    insights, and the evidence requests still open), as one JSON document. Derived from
    the case's messages, so losing it loses no data; locked while a turn adds to it, so
    two turns at once both land."""

    __tablename__ = "agent_memories"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.case_id", ondelete="CASCADE"), primary_key=True
    )
    turn: Mapped[int] = mapped_column(Integer, server_default="0")
    # The last turn number handed out: two turns at once get their own numbers (a turn
    # that failed leaves a gap).
    reserved_turn: Mapped[int] = mapped_column(Integer, server_default="0")
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(TS)


class Investigation(Base):
    """One case's investigation (seed §2's five layers; the hypotheses stay in their
    table and the memory in `agent_memories`): lifecycle, OODA engine state and the
    working conclusion. Created when the user consents to an investigation."""

    __tablename__ = "investigations"

    investigation_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.case_id", ondelete="CASCADE"), unique=True
    )
    phase: Mapped[int] = mapped_column(Integer, server_default="0")
    engagement_mode: Mapped[str] = mapped_column(String(24))
    strategy: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    problem_statement: Mapped[str] = mapped_column(Text, server_default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    consented_by: Mapped[str | None] = mapped_column(String(40))
    consented_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class EvidenceRequest(Base):
    """What the agent asked the user to provide, with how to get it, and where the
    request stands: requested → acknowledged → received → validated, or blocked."""

    __tablename__ = "evidence_requests"

    request_id: Mapped[str] = mapped_column(ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer)
    guidance: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    for_hypothesis_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, server_default="")
    fulfilled_by: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    created_at_turn: Mapped[int] = mapped_column(Integer, server_default="0")
    # The Step Functions task token of the autonomous run waiting for this evidence
    # (never shown: whoever holds it can resume the execution).
    task_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        Index("ix_evidence_requests_case", "case_id", "created_at"),
        Index(
            "ix_evidence_requests_waiting",
            "case_id",
            postgresql_where=text("task_token IS NOT NULL"),
        ),
    )


class AlertIntegration(Base):
    """An Alertmanager (or any sender of its webhook) allowed to open cases: its bearer
    secret is kept only as a SHA-256 digest (it is 256 random bits, so a digest is as
    good as a slow hash), and its routes say who owns the cases its alerts open."""

    __tablename__ = "alert_integrations"

    integration_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # "bearer": the secret is the Authorization token. "hmac": the sender signs each
    # delivery with the secret, which lives in Secrets Manager (signing_secret_arn).
    auth_kind: Mapped[str] = mapped_column(String(10), server_default="bearer")
    signing_secret_arn: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ID)
    org_id: Mapped[str | None] = mapped_column(ID)
    # [{"match": {label: value}, "owner_id"?, "team_id"?, "org_id"?}], first match wins.
    routes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    investigate: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class Alert(Base):
    """One alert (by fingerprint) of an integration while its case is open: repeated
    deliveries and re-firings add occurrences to it instead of opening another case."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "ux_alerts_open_fingerprint",
            "integration_id",
            "fingerprint",
            unique=True,
            postgresql_where=text("is_open"),
        ),
        Index("ix_alerts_case", "case_id"),
    )

    alert_id: Mapped[str] = mapped_column(ID, primary_key=True)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("alert_integrations.integration_id", ondelete="CASCADE")
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    cluster: Mapped[str | None] = mapped_column(String(200))
    alertname: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime | None] = mapped_column(TS)
    generator_url: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    occurrences: Mapped[int] = mapped_column(Integer, server_default="1")
    is_open: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    first_seen_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS)


class Cluster(Base):
    """A cluster whose telemetry the agent may query. Credentials are sealed (a KMS data
    key per value on AWS, a local key file locally) with the cluster id as context."""

    __tablename__ = "clusters"

    cluster_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(String(40))
    # {"prometheus_url": …, "loki_url": …, "tempo_url": …, "alertmanager_url": …}
    endpoints: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    auth_kind: Mapped[str] = mapped_column(String(10), server_default="none")
    credentials_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    verify_tls: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(16), server_default="unknown")
    # {backend: {"ok", "latency_ms", "version", "error"}} from the last health check
    status_components: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    checked_at: Mapped[datetime | None] = mapped_column(TS)
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
