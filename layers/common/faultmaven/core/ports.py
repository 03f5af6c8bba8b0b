"""Ports: the small interfaces domains depend on. Adapters implement them; domains never
import a vendor SDK."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from faultmaven.core.llm import LLMRequest, LLMResponse, StreamEvent
from faultmaven.core.ratelimits import (
    LevelChange,
    Reputation,
    ReputationPolicy,
    Window,
    WindowAnswer,
)
from faultmaven.core.telemetry import (
    ActiveAlert,
    AlertQuery,
    Backend,
    BackendHealth,
    Endpoint,
    LogEntry,
    LogQuery,
    MetricQuery,
    MetricResult,
    Trace,
    TraceQuery,
)
from faultmaven.core.vectors import ChunkRecord, IndexSpec, SearchFilter, VectorHit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Database(Protocol):
    """The relational store as a unit of work (PostgreSQL in every runtime). Services
    open the transaction and decide; the `Session` it yields is handed to their
    domain's `store` functions, which alone hold SQL."""

    def session(self) -> AbstractContextManager[Session]:
        """A transaction: committed when the block succeeds, rolled back otherwise."""
        ...


class KeyValueStore(Protocol):
    """Ephemeral key/value storage with expiry (Redis in every runtime)."""

    def get(self, key: str) -> str | None: ...

    def get_many(self, keys: list[str]) -> list[str | None]: ...

    def put(
        self,
        key: str,
        value: str,
        ttl_seconds: int,
        *,
        only_if_absent: bool = False,
        only_if_present: bool = False,
    ) -> bool:
        """Store `value` with an expiry. With `only_if_absent` (or `only_if_present`),
        store nothing and return False when the key exists (or does not)."""
        ...

    def increment(self, key: str, ttl_seconds: int) -> int:
        """Add one and return the new count; the expiry is set when the key is created,
        so a window does not slide with every hit."""
        ...

    def delete(self, *keys: str) -> int: ...

    def expire(self, key: str, ttl_seconds: int) -> bool: ...

    def ttl(self, key: str) -> int:
        """Seconds left; negative when the key is missing or has no expiry."""
        ...

    def set_add(self, key: str, member: str, ttl_seconds: int) -> None:
        """Add to a set that then lives at least `ttl_seconds`: an expiry is extended,
        never shortened, so a short-lived member cannot expire the longer-lived ones."""
        ...

    def set_remove(self, key: str, *members: str) -> None: ...

    def set_members(self, key: str) -> set[str]: ...

    def scan(self, match: str, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        """One step of a keyspace walk: keys matching the glob `match` and the cursor to
        continue from (0 when the walk is over). Bounded work per call, so sweepers never
        block the store; a key may come back twice, so callers must be idempotent."""
        ...

    def delete_if_value(self, key: str, expected: str) -> bool:
        """Delete `key` only while it still holds `expected` (atomically), so a sweeper
        cannot remove a value someone rewrote after it was read."""
        ...

    def ping(self) -> bool: ...


class SecretSource(Protocol):
    """Where secrets come from (Secrets Manager on AWS, moto locally)."""

    def get_secret(self, secret_id: str) -> str: ...


class SecretVault(SecretSource, Protocol):
    """Secrets we create and must read back in clear (an HMAC signing key): Secrets
    Manager in every runtime (moto locally)."""

    def create_secret(self, name: str, value: str) -> str:
        """Store `value` under `name`; returns the secret's id (its ARN)."""
        ...

    def delete_secret(self, secret_id: str) -> None: ...


class Sealer(Protocol):
    """Encrypts small secrets we store in PostgreSQL (a cluster's credentials): a KMS
    data key per value on AWS, a local key file locally. `context` is bound to the
    ciphertext (AEAD associated data, KMS encryption context): a value sealed for one
    row does not open as another's."""

    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    def open(self, sealed: bytes, *, context: str) -> bytes: ...


class Telemetry(Protocol):
    """A cluster's Prometheus, Loki, Tempo and Alertmanager HTTP APIs. Every method
    raises `TelemetryError` (core.telemetry) for a refused or failed call."""

    def query_metrics(self, endpoint: Endpoint, query: MetricQuery) -> MetricResult: ...

    def query_logs(self, endpoint: Endpoint, query: LogQuery) -> list[LogEntry]: ...

    def query_traces(self, endpoint: Endpoint, query: TraceQuery) -> list[Trace]: ...

    def get_alerts(self, endpoint: Endpoint, query: AlertQuery) -> list[ActiveAlert]: ...

    def health(self, backend: Backend, endpoint: Endpoint) -> BackendHealth: ...


class ObjectStore(Protocol):
    """Raw artifacts (S3 in every runtime: moto locally)."""

    def presign_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> dict[str, Any]:
        """A browser-ready upload form: `{"url": ..., "fields": {...}}`. The size limit
        is part of the signed policy, so S3 itself refuses a larger body."""
        ...

    def presign_get(self, key: str, *, filename: str, expires_in: int) -> str: ...

    def put(self, key: str, body: bytes, *, content_type: str) -> None: ...

    def head(self, key: str) -> int | None:
        """The object's size, or None when it does not exist."""
        ...

    def read(self, key: str, *, max_bytes: int) -> bytes:
        """At most `max_bytes` of the object, from its start."""
        ...

    def delete(self, *keys: str) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...


class Workflow(Protocol):
    """Starts state machine executions (Step Functions; moto executes them locally)."""

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        """Start an execution named `name`; False when one of that name already ran,
        which makes a duplicated trigger a no-op."""
        ...

    def resume(self, token: str, output: Mapping[str, Any]) -> bool:
        """Complete the callback task parked on `token` with `output`; False when the
        token no longer waits (timed out, already answered, execution stopped)."""
        ...

    def abandon(self, token: str, error: str, cause: str) -> bool:
        """Fail the callback task parked on `token` with the error name `error` (the
        state machine's Catch decides what that means); False as for `resume`."""
        ...


class TaskQueue(Protocol):
    """Work too long for a request (a user's data export), run elsewhere: a Lambda
    invoked asynchronously on AWS, a worker thread locally. The task reports through
    its job, so `submit` returns at once."""

    def submit(self, task: str, payload: Mapping[str, str]) -> None: ...


class LanguageModel(Protocol):
    """One language-model provider (Anthropic, Bedrock, an OpenAI-compatible server, the
    offline analyst). An adapter makes exactly one attempt per call and raises a
    `core.llm.ProviderError` saying whether a retry may help: retries, fallback,
    deadlines, budgets and redaction are the llm domain's, the same for every provider."""

    @property
    def provider(self) -> str:
        """The provider's name as settings spell it (`anthropic`, `bedrock`, ...)."""
        ...

    @property
    def model(self) -> str:
        """The model (or inference profile) id requests go to."""
        ...

    def complete(self, request: LLMRequest, *, timeout: float) -> LLMResponse:
        """One call, given at most `timeout` seconds."""
        ...

    def stream(self, request: LLMRequest, *, timeout: float) -> Iterator[StreamEvent]:
        """The same call streamed: text deltas as they arrive, then the whole response."""
        ...

    def count_tokens(self, request: LLMRequest, *, timeout: float) -> int | None:
        """The provider's count of the request's input tokens, or None where it cannot
        count (Bedrock, most OpenAI-compatible servers): callers then estimate."""
        ...

    def warm(self) -> None:
        """Import the SDK and build the client now (SnapStart init), not on first use."""
        ...


class Embedder(Protocol):
    """Turns text into unit-length vectors (a local model, or Bedrock Titan on AWS)."""

    @property
    def spec(self) -> IndexSpec:
        """The model and dimension, recorded by the index that stores the vectors."""
        ...

    @property
    def batch_size(self) -> int:
        """How many texts one `embed` call handles efficiently."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalized vector per text, in order."""
        ...


class VectorStore(Protocol):
    """Chunks with their vectors and access metadata (pgvector or OpenSearch).

    Every search is filtered inside the backend's query by `SearchFilter`, so a chunk the
    caller may not read is never a candidate, whatever the query vector.
    """

    def ensure(self, spec: IndexSpec) -> None:
        """Create the index for `spec` if it does not exist. Raises IndexMismatchError
        when it exists for another model or dimension. Idempotent."""
        ...

    def upsert(self, chunks: Sequence[ChunkRecord]) -> None:
        """Insert or replace chunks by `chunk_id`. Raises IndexMismatchError when a
        vector's length is not the index's dimension."""
        ...

    def set_readers(self, document_id: str, readers: frozenset[str]) -> int:
        """Replace the reader tokens of every chunk of a document (its access changed);
        returns how many chunks were updated."""
        ...

    def delete(
        self,
        *,
        document_id: str | None = None,
        case_id: str | None = None,
        owner_id: str | None = None,
        indexed_before: datetime | None = None,
    ) -> int:
        """Delete the chunks matching every given criterion (at least one of document,
        case or owner is required); returns how many were deleted."""
        ...

    def count(self, *, document_id: str | None = None, case_id: str | None = None) -> int: ...

    def search(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[VectorHit]:
        """The `k` nearest chunks by cosine similarity among those `where` admits."""
        ...

    def keyword_search(self, text: str, where: SearchFilter, k: int) -> list[VectorHit]:
        """The `k` best chunks by full-text relevance among those `where` admits."""
        ...


class CaseMemory(Protocol):
    """A case's working memory: its evidence chunks, embedded and searchable by whoever
    may read the case (the knowledge service implements it)."""

    def index_case_memory(
        self, *, case_id: str, evidence_id: str, source: str, chunks: Sequence[tuple[str, str]]
    ) -> int:
        """Embed and store one evidence's `(chunk_id, text)` pieces, replacing its old ones."""
        ...

    def forget_evidence(self, evidence_id: str) -> int: ...

    def forget_case(self, case_id: str, *, indexed_before: datetime | None = None) -> int: ...


class CountersUnavailableError(RuntimeError):
    """The shared counter store cannot answer (down, frozen, refusing): the service
    falls back to its per-process counters for a while."""


class Counters(Protocol):
    def hit(
        self,
        subject: str,
        now_ms: int,
        windows: Sequence[Window],
        policy: ReputationPolicy,
        *,
        scales: Sequence[float],
        cost: int = 1,
    ) -> WindowAnswer:
        """Count one request against every window of `subject` if all have room, or
        count nothing and say which refused and for how long. `windows` carry the
        configured limits; `scales` (for normal, suspicious, restricted) scale them by
        the subject's current level, which the store reads in the same step. A refusal
        adds the policy's throttle points to the subject's score."""
        ...

    def penalize(
        self, subject: str, now_ms: int, points: float, policy: ReputationPolicy
    ) -> LevelChange:
        """Add points to the subject's score (a client error) and return its level
        before and after."""
        ...

    def reputation(self, subject: str, now_ms: int, policy: ReputationPolicy) -> Reputation: ...

    def reconnect(self) -> None:
        """Drop connections inherited from a snapshot (SnapStart); they refill on use."""
        ...
