"""One settings object for every runtime.

Settings are read from the environment once and validated at start, so a misconfigured
deploy fails at once with a message naming the variable instead of at the first request.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FAULTMAVEN_"


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    AWS = "aws"


class VectorBackend(StrEnum):
    PGVECTOR = "pgvector"
    OPENSEARCH = "opensearch"


class EmbedderKind(StrEnum):
    LOCAL = "local"
    BEDROCK = "bedrock"


class LLMProviderKind(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    OPENAI_COMPATIBLE = "openai_compatible"
    OFFLINE = "offline"


# What the deployed Anthropic key secret holds until an operator stores a real key: the
# functions then treat the key as missing (no call leaves with a junk key).
ANTHROPIC_KEY_PLACEHOLDER = "not-configured"


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid setting; the message names it."""


def _aliases(name: str, *extra: str) -> AliasChoices:
    return AliasChoices(*extra, f"{ENV_PREFIX}{name.upper()}")


class Settings(BaseSettings):
    """Everything configurable. Environment variables are `FAULTMAVEN_<FIELD>`.

    `DATABASE_URL` and `REDIS_URL` are also read without the prefix because that is what
    every operator and CI system already sets.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True, frozen=True
    )

    environment: Environment = Environment.LOCAL
    service_name: str = "faultmaven"
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    # CloudWatch namespace of the Lambda functions' EMF metrics. `AWS/` is reserved for
    # AWS's own metrics, and CloudWatch rejects other characters than these.
    metrics_namespace: str = Field(
        default="FaultMaven", pattern=r"^[A-Za-z0-9._/#-][A-Za-z0-9 ._/#:-]{0,254}$"
    )

    database_url: Annotated[
        str | None, Field(validation_alias=_aliases("database_url", "DATABASE_URL"))
    ] = None
    # On AWS the functions reach Aurora through RDS Proxy with IAM authentication: the URL
    # names the user and no password, and each new connection signs a 15-minute token.
    database_iam_auth: bool = False
    db_pool_size: int = Field(default=5, ge=1, le=50)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    redis_url: Annotated[str | None, Field(validation_alias=_aliases("redis_url", "REDIS_URL"))] = (
        None
    )
    # How long a Redis command may take before the request answers 503: a frozen or
    # partitioned cache must not hold API threads for long.
    redis_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    # Auth. On AWS the signing key lives in Secrets Manager and only its ARN is configured.
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_algorithm: str = Field(default="HS256", pattern=r"^HS(256|384|512)$")
    jwt_issuer: str = "faultmaven"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=300, le=90 * 86_400)
    password_hash_time_cost: int = Field(default=3, ge=1, le=10)
    password_hash_memory_kib: int = Field(default=65_536, ge=1024, le=1_048_576)

    # Sessions (Redis). The design allows 60-480 minutes; 60 is the default.
    session_ttl_minutes: int = Field(default=60, ge=60, le=480)
    max_sessions_per_user: int = Field(default=20, ge=1, le=1000)

    # AWS: an endpoint override points every boto3 client at moto locally and in tests.
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None

    # Evidence: raw artifacts in S3, processed by the preprocessing state machine.
    evidence_bucket: str = Field(default="faultmaven-evidence", min_length=3, max_length=63)
    preprocessing_state_machine_arn: str | None = None
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # Short: a form can be replayed until it expires (see README, evidence).
    presigned_url_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    job_ttl_seconds: int = Field(default=86_400, ge=3600, le=7 * 86_400)
    # The function that runs long background tasks (data exports) on AWS; unset, they
    # run on a worker thread of this process (the local runtime, tests).
    task_function_name: str | None = None

    # Knowledge. pgvector lives in the application database; OpenSearch (Serverless on
    # AWS, signed with the function's role when `opensearch_sigv4`) is the other backend.
    vector_store: VectorBackend = VectorBackend.PGVECTOR
    opensearch_url: Annotated[
        str | None, Field(validation_alias=_aliases("opensearch_url", "OPENSEARCH_URL"))
    ] = None
    opensearch_index: str = Field(
        default="faultmaven-chunks", pattern=r"^[a-z0-9][a-z0-9_-]{0,80}$"
    )
    opensearch_sigv4: bool = False
    # The local model ships in a package; Bedrock Titan Text Embeddings v2 on AWS.
    embedder: EmbedderKind = EmbedderKind.LOCAL
    bedrock_embedding_model: str = "amazon.titan-embed-text-v2:0"
    bedrock_embedding_dimension: Literal[256, 512, 1024] = 1024
    embedding_cache_ttl_seconds: int = Field(default=7 * 86_400, ge=0, le=90 * 86_400)
    # Documents posted inline; larger files go through the presigned upload.
    knowledge_max_document_bytes: int = Field(default=512 * 1024, ge=1024, le=960 * 1024)
    # At most 4 MiB: GET returns the text, and a Lambda answer is capped at 6 MB.
    knowledge_max_upload_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=4 * 1024 * 1024)

    # Language models (README, "Language models"). Unset, the provider is `anthropic`
    # when an API key (or its secret) is configured and the offline analyst otherwise.
    llm_provider: LLMProviderKind | None = None
    # A second provider tried when the first still fails after its retries.
    llm_fallback: LLMProviderKind | None = None
    llm_model: str = Field(default="claude-sonnet-4-5", min_length=1, max_length=200)
    anthropic_api_key: SecretStr | None = None
    anthropic_api_key_secret_arn: str | None = None
    anthropic_base_url: str | None = None
    # A model id or an inference-profile id/ARN; the function role may invoke only it.
    bedrock_llm_model: str = Field(
        default="us.anthropic.claude-sonnet-4-5-20250929-v1:0", min_length=1, max_length=300
    )
    bedrock_region: str | None = None
    openai_compatible_base_url: str | None = None
    openai_compatible_model: str | None = None
    openai_compatible_api_key: SecretStr | None = None
    # One attempt's timeout, the attempts per provider, and the backoff between them.
    llm_call_timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    llm_backoff_base_seconds: float = Field(default=0.5, ge=0, le=30)
    llm_backoff_max_seconds: float = Field(default=8.0, ge=0, le=120)
    # What an API request may spend on models in all (API Gateway gives ≈ 29 s).
    llm_api_deadline_seconds: float = Field(default=25.0, gt=0, le=29)
    # What any other call may spend in all, retries and fallback included (a pipeline
    # step's Lambda has 5 minutes).
    llm_task_deadline_seconds: float = Field(default=240.0, gt=0, le=840)
    # USD per million tokens by model, merged over the shipped table (llm/prices.json):
    # {"my-model": {"input": 1, "output": 5, "cache_write": 1.25, "cache_read": 0.1}}.
    llm_prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    # Budgets: a call that would pass one is refused (402 LLM_BUDGET_EXHAUSTED).
    llm_case_budget_tokens: int = Field(default=3_000_000, ge=1)
    llm_case_budget_usd: float = Field(default=25.0, gt=0)
    llm_session_budget_tokens: int = Field(default=1_000_000, ge=1)
    llm_session_budget_usd: float = Field(default=10.0, gt=0)
    # Ask the model for evidence summaries when a provider is configured.
    llm_summaries: bool = True

    # The agent's chat turn (README, "The agent"). The whole turn, tools and model calls
    # included, must end inside API Gateway's 29 s.
    agent_turn_deadline_seconds: float = Field(default=25.0, gt=1, le=28)
    # Estimated input tokens of the first prompt: system, tools, case, memory, evidence
    # digest, retrieved knowledge and the query.
    agent_context_budget_tokens: int = Field(default=8_000, ge=1_500, le=150_000)
    # The memory part of the prompt (hot, warm, cold tiers and persistent insights).
    agent_memory_budget_tokens: int = Field(default=1_200, ge=200, le=1_600)
    # Model rounds in one turn (each may call tools); the last one must answer.
    agent_max_rounds: int = Field(default=4, ge=1, le=10)
    # Tool calls the turn runs: in one model message, and in all.
    agent_max_tool_calls_per_round: int = Field(default=4, ge=1, le=20)
    agent_max_tool_calls_per_turn: int = Field(default=10, ge=1, le=50)
    # The share of the budget one tool result may take before it is cut.
    agent_tool_result_tokens: int = Field(default=1_500, ge=200, le=20_000)
    agent_max_answer_tokens: int = Field(default=2_048, ge=256, le=16_000)
    # Knowledge chunks retrieved before the first call, across case, user and global KBs.
    agent_retrieval_k: int = Field(default=8, ge=1, le=30)
    # Compress the memory with the model every this many turns (deterministic otherwise).
    agent_compression_every: int = Field(default=3, ge=1, le=50)
    # A turn with attachments (the copilot's POST …/turns) waits this long in the request
    # for them to be preprocessed; with the turn's deadline it must stay inside 29 s.
    # Longer, and the turn becomes a background job the client polls, which waits up to
    # `agent_background_wait_seconds` for the files before it answers.
    agent_attachment_wait_seconds: float = Field(default=3.0, ge=0, le=27)
    agent_background_wait_seconds: float = Field(default=300.0, ge=0, le=840)

    # The autonomous investigation (Step Functions): the state machine, how long a run
    # waits for evidence it asked for before it stalls, how many agent iterations one
    # phase state may take, and the most one run may take in all.
    investigation_state_machine_arn: str | None = None
    investigation_evidence_wait_seconds: int = Field(default=86_400, ge=1, le=7 * 86_400)
    investigation_iterations_per_phase: int = Field(default=3, ge=1, le=10)
    investigation_max_steps: int = Field(default=24, ge=1, le=200)

    # Live telemetry: the KMS key that wraps each cluster's credentials (on AWS; locally
    # a key file in the state directory does), and the time one agent query may take.
    cluster_kms_key_id: str | None = None
    cluster_key_file: Path | None = None
    telemetry_query_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Alert integrations that sign their deliveries keep the key in Secrets Manager.
    alert_signature_tolerance_seconds: int = Field(default=300, ge=30, le=3_600)

    # Local runtime.
    state_dir: Path = Path(".faultmaven")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    moto_port: int = Field(default=8001, ge=1, le=65_535)
    cors_origins: list[str] = Field(default_factory=list)
    # Addresses or networks of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto
    # the local server believes. Empty: the socket peer is the client (anyone can write
    # those headers). On AWS the address always comes from API Gateway's request context.
    trusted_proxies: list[str] = Field(default_factory=list)
    # `faultmaven dev` loads the starter global knowledge base at start (in the background).
    seed_global_kb: bool = True

    # Retention (EventBridge schedules on AWS, `faultmaven retention run` locally). Finished
    # jobs follow `job_ttl_seconds`; session indexes are swept once their sessions are gone.
    retention_case_archive_days: int = Field(default=90, ge=1, le=3650)
    retention_artifact_days: int = Field(default=90, ge=1, le=3650)
    retention_case_memory_days: int = Field(default=7, ge=1, le=365)
    retention_audit_days: int = Field(default=365, ge=30, le=3650)
    retention_batch_size: int = Field(default=500, ge=1, le=5000)

    # Protection (README, "Rate limits and reputation"): sliding windows per user and per
    # client address in Redis; a budget is `…_PER_MINUTE`, `…_PER_HOUR` and `…_BURST`
    # (requests in any `rate_limit_burst_window_seconds`). API Gateway's stage throttling
    # stays the outer wall.
    protection_enabled: bool = True
    rate_limit_burst_window_seconds: int = Field(default=10, ge=1, le=60)
    # Multiplies every budget below at once (2 doubles them all).
    rate_limit_scale: float = Field(default=1.0, gt=0, le=10_000)
    rate_limit_user_per_minute: int = Field(default=300, ge=1)
    rate_limit_user_per_hour: int = Field(default=6000, ge=1)
    rate_limit_user_burst: int = Field(default=100, ge=1)
    rate_limit_address_per_minute: int = Field(default=3000, ge=1)
    rate_limit_address_per_hour: int = Field(default=60_000, ge=1)
    rate_limit_address_burst: int = Field(default=600, ge=1)
    rate_limit_auth_per_minute: int = Field(default=120, ge=1)
    rate_limit_auth_per_hour: int = Field(default=1200, ge=1)
    rate_limit_auth_burst: int = Field(default=30, ge=1)
    rate_limit_upload_per_minute: int = Field(default=30, ge=1)
    rate_limit_upload_per_hour: int = Field(default=300, ge=1)
    rate_limit_upload_burst: int = Field(default=10, ge=1)
    rate_limit_search_per_minute: int = Field(default=60, ge=1)
    rate_limit_search_per_hour: int = Field(default=1200, ge=1)
    rate_limit_search_burst: int = Field(default=20, ge=1)
    rate_limit_agent_per_minute: int = Field(default=10, ge=1)
    rate_limit_agent_per_hour: int = Field(default=200, ge=1)
    rate_limit_agent_burst: int = Field(default=3, ge=1)
    # Addresses (CIDRs) that get four times the address budgets and no reputation:
    # your own monitoring, a NAT all your engineers share.
    protection_trusted_networks: list[str] = Field(default_factory=list)
    reputation_enabled: bool = True
    reputation_half_life_seconds: int = Field(default=1800, ge=10, le=7 * 86_400)
    reputation_suspicious_score: float = Field(default=30, gt=0)
    reputation_restricted_score: float = Field(default=100, gt=0)
    reputation_blocked_score: float = Field(default=250, gt=0)
    reputation_block_seconds: int = Field(default=900, ge=1, le=86_400)
    reputation_max_block_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)
    protection_redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    protection_redis_retry_seconds: float = Field(default=5.0, gt=0, le=300)
    protection_local_max_clients: int = Field(default=10_000, ge=100, le=1_000_000)
    protection_event_flush_seconds: float = Field(default=2.0, gt=0, le=300)
    protection_event_max_pending: int = Field(default=2000, ge=10, le=100_000)
    retention_protection_event_days: int = Field(default=30, ge=1, le=3650)

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if not (
            self.reputation_suspicious_score
            < self.reputation_restricted_score
            < self.reputation_blocked_score
        ):
            raise ValueError("reputation scores must rise: suspicious < restricted < blocked")
        if self.agent_attachment_wait_seconds + self.agent_turn_deadline_seconds > 28:
            raise ValueError(
                "agent_attachment_wait_seconds + agent_turn_deadline_seconds must be at "
                "most 28: a request ends at API Gateway's 29 s"
            )
        for network in self.protection_trusted_networks:
            try:
                ip_network(network, strict=False)
            except ValueError:
                message = f"protection_trusted_networks: {network!r} is not a network"
                raise ValueError(message) from None
        if self.database_url is not None and not self.database_url.startswith(
            ("postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError("database_url must be a postgresql:// URL")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        if self.database_iam_auth and self.database_url is not None:
            parsed = urlsplit(self.database_url)
            if not parsed.username or not parsed.hostname or parsed.password:
                raise ValueError(
                    "database_url must name a user and host and carry no password "
                    "when database_iam_auth is on"
                )
        for kind in (self.llm_provider, self.llm_fallback):
            if kind is LLMProviderKind.OPENAI_COMPATIBLE and not (
                self.openai_compatible_base_url and self.openai_compatible_model
            ):
                raise ValueError(
                    "openai_compatible_base_url and openai_compatible_model are required "
                    "for the openai_compatible provider"
                )
        if self.llm_fallback is not None and self.llm_fallback == self.resolved_llm_provider:
            raise ValueError("llm_fallback must differ from llm_provider")
        for url in (self.anthropic_base_url, self.openai_compatible_base_url):
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError("LLM base URLs must be http:// or https:// URLs")
        for model, prices in self.llm_prices.items():
            unknown = set(prices) - {"input", "output", "cache_write", "cache_read"}
            if unknown or any(value < 0 for value in prices.values()):
                raise ValueError(
                    f"llm_prices[{model!r}]: keys are input, output, cache_write, cache_read "
                    "(USD per million tokens, not negative)"
                )
        if self.vector_store is VectorBackend.OPENSEARCH and self.opensearch_url is None:
            raise ValueError("opensearch_url is required when vector_store is opensearch")
        if self.metrics_namespace.startswith("AWS/"):
            raise ValueError("metrics_namespace must not start with AWS/ (reserved by AWS)")
        for proxy in self.trusted_proxies:
            try:
                ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {proxy!r} is not an address or network"
                ) from None
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("jwt_secret must be at least 32 characters")
        if self.environment is Environment.AWS:
            missing = [
                name
                for name, value in (
                    ("database_url", self.database_url),
                    ("redis_url", self.redis_url),
                )
                if value is None
            ]
            if self.jwt_secret is None and self.jwt_secret_arn is None:
                missing.append("jwt_secret_arn")
            if missing:
                raise ValueError(f"required on AWS: {', '.join(missing)}")
        return self

    @property
    def resolved_llm_provider(self) -> LLMProviderKind:
        """The primary provider: the configured one, else Anthropic when a key (or its
        secret) is set, else the offline analyst, so a fresh checkout needs no account."""
        if self.llm_provider is not None:
            return self.llm_provider
        if self.anthropic_api_key is not None or self.anthropic_api_key_secret_arn:
            return LLMProviderKind.ANTHROPIC
        return LLMProviderKind.OFFLINE

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the psycopg 3 driver, which SQLAlchemy needs spelled out."""
        if self.database_url is None:
            raise SettingsError(f"{ENV_PREFIX}DATABASE_URL (or DATABASE_URL) is not set")
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings, turning pydantic's error into one naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            variable = f"{ENV_PREFIX}{field.upper()}" if error["loc"] else "settings"
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (Lambda init or local start)."""
    return load_settings()
