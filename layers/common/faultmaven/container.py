"""The composition root: the one place that builds adapters from settings and hands them
to the domain services. Built once per process (Lambda init, local start), so pools and
clients are reused across requests and warm invocations.

Services are built, and their modules imported, on first use: a Lambda that serves only
sessions never imports the case domain.
"""

from __future__ import annotations

import secrets
from functools import cached_property, partial
from typing import TYPE_CHECKING

from faultmaven.adapters.postgres import Database
from faultmaven.adapters.redis import RedisKeyValueStore
from faultmaven.core.errors import ServiceUnavailableError
from faultmaven.core.events import Events
from faultmaven.core.logging import logger
from faultmaven.core.settings import (
    ANTHROPIC_KEY_PLACEHOLDER,
    Environment,
    LLMProviderKind,
    Settings,
    SettingsError,
)

if TYPE_CHECKING:
    from faultmaven.agent.attachments import AttachedTurnService
    from faultmaven.agent.autonomous import InvestigationRunner
    from faultmaven.agent.service import AgentService
    from faultmaven.alerts.service import AlertService
    from faultmaven.auth.service import AuthService
    from faultmaven.auth.tokens import Tokens
    from faultmaven.cases.events import CaseDeleted
    from faultmaven.cases.service import CaseService
    from faultmaven.clusters.service import ClusterService
    from faultmaven.core.idempotency import Idempotency
    from faultmaven.core.ports import (
        Embedder,
        LanguageModel,
        ObjectStore,
        Sealer,
        SecretVault,
        TaskQueue,
        VectorStore,
        Workflow,
    )
    from faultmaven.evidence.events import (
        CaseMemoryExpired,
        EvidenceChunksStored,
        EvidenceDeleted,
        EvidenceProcessed,
    )
    from faultmaven.evidence.service import EvidenceService
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.history.service import HistoryService
    from faultmaven.investigation.service import InvestigationService
    from faultmaven.jobs.service import JobService
    from faultmaven.knowledge.service import KnowledgeService
    from faultmaven.llm.service import LanguageModels
    from faultmaven.organizations.service import OrganizationService
    from faultmaven.preprocessing.pipeline import PreprocessingSteps
    from faultmaven.privacy.service import PrivacyService
    from faultmaven.protection.service import ProtectionService
    from faultmaven.retention.service import RetentionService
    from faultmaven.sessions.service import SessionService


class Container:
    def __init__(self, settings: Settings, database: Database, kv: RedisKeyValueStore) -> None:
        self.settings = settings
        self.database = database
        self.kv = kv
        self.events = Events()
        self._subscribe(self.events)

    # -- who listens to what ------------------------------------------------------------
    def _subscribe(self, events: Events) -> None:
        """The case's working memory lives in the knowledge domain's vector store, which
        needs cases for its access checks: so cases and evidence announce, and the
        knowledge service (built on first use) listens."""
        from faultmaven.cases.events import CaseDeleted
        from faultmaven.evidence.events import (
            CaseMemoryExpired,
            EvidenceChunksStored,
            EvidenceDeleted,
            EvidenceProcessed,
        )

        events.subscribe(CaseDeleted, self._forget_case_memory)
        events.subscribe(CaseDeleted, self._forget_case_history)
        events.subscribe(CaseDeleted, self._forget_agent_memory)
        events.subscribe(CaseDeleted, self._forget_investigation)
        events.subscribe(EvidenceChunksStored, self._index_evidence_chunks)
        events.subscribe(EvidenceDeleted, self._forget_evidence_chunks)
        events.subscribe(CaseMemoryExpired, self._expire_case_memory)
        events.subscribe(EvidenceProcessed, self._match_evidence_requests)

    def _forget_case_memory(self, event: CaseDeleted) -> None:
        self.knowledge.forget_case(event.case_id)

    def _forget_case_history(self, event: CaseDeleted) -> None:
        self.history.forget_case(event.case_id)

    def _forget_agent_memory(self, event: CaseDeleted) -> None:
        self.agent.forget_case(event.case_id)

    def _forget_investigation(self, event: CaseDeleted) -> None:
        self.investigation.forget_case(event.case_id)

    def _match_evidence_requests(self, event: EvidenceProcessed) -> None:
        """Best effort: a failed classification must not fail (and so repeat) the
        pipeline's last step; the request stays open and the user can say it was answered."""
        try:
            uploader = (
                self.auth.principal_of(event.uploaded_by, acting_as="evidence-classification")
                if event.uploaded_by
                else None
            )
            self.agent.classify_upload(
                uploader,
                case_id=event.case_id,
                evidence_id=event.evidence_id,
                filename=event.filename,
                data_type=event.data_type,
                summary=event.summary,
                insights=event.insights,
            )
        except Exception as exc:
            logger.warning(
                "evidence request matching failed",
                extra={"evidence_id": event.evidence_id, "error": type(exc).__name__},
            )

    def _index_evidence_chunks(self, event: EvidenceChunksStored) -> None:
        self.knowledge.index_case_memory(
            case_id=event.case_id,
            evidence_id=event.evidence_id,
            source=event.source,
            chunks=event.chunks,
        )

    def _forget_evidence_chunks(self, event: EvidenceDeleted) -> None:
        self.knowledge.forget_evidence(event.evidence_id)

    def _expire_case_memory(self, event: CaseMemoryExpired) -> None:
        self.knowledge.forget_case(event.case_id, indexed_before=event.indexed_before)

    @cached_property
    def tokens(self) -> Tokens:
        from faultmaven.auth.revocation import Revocations
        from faultmaven.auth.tokens import SigningKey, Tokens

        settings = self.settings
        lifetime = max(settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds)
        return Tokens(
            SigningKey(partial(_load_signing_key, settings)),
            Revocations(self.database, self.kv, mark_ttl=lifetime + 60),
            algorithm=settings.jwt_algorithm,
            issuer=settings.jwt_issuer,
            access_ttl=settings.access_token_ttl_seconds,
            refresh_ttl=settings.refresh_token_ttl_seconds,
        )

    @cached_property
    def auth(self) -> AuthService:
        from faultmaven.auth.passwords import Passwords
        from faultmaven.auth.service import AuthService
        from faultmaven.auth.throttle import LoginThrottle

        passwords = Passwords(
            self.settings.password_hash_time_cost, self.settings.password_hash_memory_kib
        )
        return AuthService(self.database, passwords, self.tokens, LoginThrottle(self.kv))

    @cached_property
    def sessions(self) -> SessionService:
        from faultmaven.sessions.service import SessionService

        return SessionService(
            self.kv,
            default_ttl_minutes=self.settings.session_ttl_minutes,
            max_sessions_per_user=self.settings.max_sessions_per_user,
        )

    @cached_property
    def cases(self) -> CaseService:
        from faultmaven.cases.service import CaseService

        return CaseService(self.database, self.events)

    @cached_property
    def organizations(self) -> OrganizationService:
        from faultmaven.organizations.service import OrganizationService

        return OrganizationService(self.database)

    @cached_property
    def objects(self) -> ObjectStore:
        from faultmaven.adapters.s3 import S3ObjectStore

        return S3ObjectStore(self.settings)

    def workflow(self) -> Workflow:
        """The preprocessing state machine; unset, uploads are accepted but not processed."""
        from faultmaven.adapters.stepfunctions import StepFunctionsWorkflow

        arn = self.settings.preprocessing_state_machine_arn
        if arn is None:
            raise ServiceUnavailableError("Preprocessing is not configured")
        return StepFunctionsWorkflow(self.settings, arn)

    @cached_property
    def jobs(self) -> JobService:
        from faultmaven.cases.access import Access
        from faultmaven.jobs.service import JobService

        return JobService(
            self.kv,
            ttl_seconds=self.settings.job_ttl_seconds,
            can_read_case=lambda principal, case_id: self.cases.require_access(
                principal, case_id, Access.READ
            ),
        )

    @cached_property
    def evidence(self) -> EvidenceService:
        from faultmaven.evidence.service import EvidenceService

        return EvidenceService(
            self.database,
            self.objects,
            self.jobs,
            require_case_access=self.cases.require_access,
            workflow=self.workflow,
            max_upload_bytes=self.settings.max_upload_bytes,
            url_ttl_seconds=self.settings.presigned_url_ttl_seconds,
            events=self.events,
        )

    @cached_property
    def preprocessing(self) -> PreprocessingSteps:
        from faultmaven.preprocessing.pipeline import PreprocessingSteps
        from faultmaven.preprocessing.summarize import Summarizer

        summarizer = (
            Summarizer(lambda: self.language_models, lambda: self.history_recorder)
            if self.settings.llm_summaries
            else Summarizer(None, None)
        )
        return PreprocessingSteps(
            self.evidence,
            self.objects,
            self.jobs,
            max_bytes=self.settings.max_upload_bytes,
            summarizer=summarizer,
        )

    @cached_property
    def language_models(self) -> LanguageModels:
        """The gateway over the configured provider and its fallback. Adapters import
        their SDKs on first use (or in `warm`, under a SnapStart init)."""
        from faultmaven.llm.pricing import PriceTable
        from faultmaven.llm.retry import RetryPolicy
        from faultmaven.llm.service import Budgets, LanguageModels

        settings = self.settings
        kinds = [settings.resolved_llm_provider]
        if settings.llm_fallback is not None:
            kinds.append(settings.llm_fallback)
        return LanguageModels(
            [_language_model(kind, settings) for kind in kinds],
            recorder=self.history_recorder,
            prices=PriceTable.shipped(settings.llm_prices),
            budgets=Budgets(
                case_tokens=settings.llm_case_budget_tokens,
                case_usd=settings.llm_case_budget_usd,
                session_tokens=settings.llm_session_budget_tokens,
                session_usd=settings.llm_session_budget_usd,
            ),
            retry=RetryPolicy(
                max_attempts=settings.llm_max_attempts,
                base_seconds=settings.llm_backoff_base_seconds,
                max_seconds=settings.llm_backoff_max_seconds,
            ),
            call_timeout=settings.llm_call_timeout_seconds,
            default_deadline_seconds=settings.llm_task_deadline_seconds,
            api_deadline_seconds=settings.llm_api_deadline_seconds,
        )

    @cached_property
    def embedder(self) -> Embedder:
        """The configured model behind a Redis cache keyed by content hash. The local
        model loads its weights on first use, not here."""
        from faultmaven.core.settings import EmbedderKind
        from faultmaven.knowledge.embedding_cache import CachedEmbedder

        settings = self.settings
        model: Embedder
        if settings.embedder is EmbedderKind.BEDROCK:
            from faultmaven.adapters.embeddings.bedrock import BedrockTitanEmbedder

            model = BedrockTitanEmbedder(settings)
        else:
            from faultmaven.adapters.embeddings.local import LocalEmbedder

            model = LocalEmbedder()
        return CachedEmbedder(model, self.kv, ttl_seconds=settings.embedding_cache_ttl_seconds)

    @cached_property
    def vectors(self) -> VectorStore:
        from faultmaven.core.settings import VectorBackend

        if self.settings.vector_store is VectorBackend.OPENSEARCH:
            from faultmaven.adapters.vectors.opensearch import OpenSearchVectorStore

            return OpenSearchVectorStore.from_settings(self.settings)
        from faultmaven.adapters.vectors.pgvector import PgVectorStore

        return PgVectorStore(self.database)

    @cached_property
    def knowledge(self) -> KnowledgeService:
        from faultmaven.knowledge.service import KnowledgeService

        return KnowledgeService(
            self.database,
            self.vectors,
            self.embedder,
            require_case_access=self.cases.require_access,
            max_document_bytes=self.settings.knowledge_max_document_bytes,
            objects=self.objects,
            max_upload_bytes=self.settings.knowledge_max_upload_bytes,
            url_ttl_seconds=self.settings.presigned_url_ttl_seconds,
        )

    @cached_property
    def investigation(self) -> InvestigationService:
        from faultmaven.investigation.service import InvestigationService

        return InvestigationService(
            self.database, self.cases, jobs=self.jobs, workflow=self.investigation_workflow
        )

    def investigation_workflow(self) -> Workflow:
        """The autonomous investigation's state machine; unset, runs cannot start (503)."""
        from faultmaven.adapters.stepfunctions import StepFunctionsWorkflow

        arn = self.settings.investigation_state_machine_arn
        if arn is None:
            raise ServiceUnavailableError("Autonomous investigations are not configured")
        return StepFunctionsWorkflow(self.settings, arn)

    @cached_property
    def investigation_runner(self) -> InvestigationRunner:
        """The tasks of the investigation state machine (functions/investigate)."""
        from faultmaven.agent.autonomous import InvestigationRunner, RunnerConfig

        s = self.settings
        return InvestigationRunner(
            agent=self.agent,
            investigation=self.investigation,
            cases=self.cases,
            jobs=self.jobs,
            auth=self.auth,
            recorder=lambda: self.history_recorder,
            config=RunnerConfig(
                evidence_wait_seconds=s.investigation_evidence_wait_seconds,
                iterations_per_phase=s.investigation_iterations_per_phase,
                max_steps=s.investigation_max_steps,
            ),
        )

    @cached_property
    def agent(self) -> AgentService:
        """The chat turn: context, tool loop and answers, over the other domains' services."""
        from faultmaven.agent.service import AgentConfig, AgentService

        s = self.settings
        return AgentService(
            database=self.database,
            cases=self.cases,
            sessions=self.sessions,
            evidence=self.evidence,
            knowledge=self.knowledge,
            investigation=self.investigation,
            models=lambda: self.language_models,
            recorder=lambda: self.history_recorder,
            config=AgentConfig(
                turn_deadline_seconds=s.agent_turn_deadline_seconds,
                context_budget_tokens=s.agent_context_budget_tokens,
                memory_budget_tokens=s.agent_memory_budget_tokens,
                max_rounds=s.agent_max_rounds,
                max_tool_calls_per_round=s.agent_max_tool_calls_per_round,
                max_tool_calls_per_turn=s.agent_max_tool_calls_per_turn,
                tool_result_tokens=s.agent_tool_result_tokens,
                max_answer_tokens=s.agent_max_answer_tokens,
                retrieval_k=s.agent_retrieval_k,
                compression_every=s.agent_compression_every,
                telemetry_seconds=s.telemetry_query_timeout_seconds,
            ),
            clusters=lambda: self.clusters,
        )

    @cached_property
    def alerts(self) -> AlertService:
        """Alertmanager's webhook: cases and investigations opened by alerts."""
        from faultmaven.alerts.service import AlertService

        return AlertService(
            self.database,
            cases=self.cases,
            evidence=self.evidence,
            investigation=self.investigation,
            principal_of=self.auth.principal_of,
        )

    @cached_property
    def clusters(self) -> ClusterService:
        """The telemetry cluster registry and the agent's live queries."""
        from faultmaven.adapters.telemetry import HttpTelemetry
        from faultmaven.clusters.service import ClusterService

        return ClusterService(self.database, sealer=lambda: self.sealer, telemetry=HttpTelemetry())

    @cached_property
    def sealer(self) -> Sealer:
        """Encryption of stored credentials: a KMS data key per value on AWS, a key file
        in the state directory locally."""
        s = self.settings
        if s.cluster_kms_key_id:
            from faultmaven.adapters.sealing import KmsSealer

            return KmsSealer(s, s.cluster_kms_key_id)
        if s.environment is Environment.AWS:
            raise ServiceUnavailableError(
                "Cluster credentials cannot be stored: FAULTMAVEN_CLUSTER_KMS_KEY_ID is not set",
                error_code="CLUSTER_KEY_NOT_CONFIGURED",
            )
        from faultmaven.adapters.sealing import LocalKeySealer

        return LocalKeySealer(s.cluster_key_file or s.state_dir / "cluster-credentials.key")

    @cached_property
    def secret_vault(self) -> SecretVault:
        from faultmaven.adapters.aws import SecretsManagerSource

        return SecretsManagerSource(self.settings)

    @cached_property
    def idempotency(self) -> Idempotency:
        """Replies kept for retried POSTs that carry an `Idempotency-Key`."""
        from faultmaven.core.idempotency import Idempotency

        return Idempotency(self.kv)

    @cached_property
    def attached_turns(self) -> AttachedTurnService:
        """Chat turns that bring files: in the request, or as a background job."""
        from faultmaven.agent.attachments import AttachedTurnService

        s = self.settings
        return AttachedTurnService(
            self.agent,
            self.cases,
            self.evidence,
            self.jobs,
            self.tasks,
            principal_of=self.auth.principal_of,
            wait_seconds=s.agent_attachment_wait_seconds,
            turn_deadline_seconds=s.agent_turn_deadline_seconds,
            background_wait_seconds=s.agent_background_wait_seconds,
        )

    @cached_property
    def history(self) -> HistoryService:
        """Reading the investigation history, authorized like each session's case."""
        from faultmaven.history.service import HistoryService

        return HistoryService(self.database, require_case_access=self.cases.require_access)

    @cached_property
    def history_recorder(self) -> HistoryRecorder:
        """What domains record into: sessions, stages, LLM and tool calls."""
        from faultmaven.history.recorder import HistoryRecorder

        return HistoryRecorder(self.database)

    @cached_property
    def retention(self) -> RetentionService:
        from faultmaven.retention.service import RetentionPolicy, RetentionService

        return RetentionService(
            self.database,
            cases=self.cases,
            evidence=self.evidence,
            sessions=self.sessions,
            jobs=self.jobs,
            policy=RetentionPolicy.from_settings(self.settings),
        )

    @cached_property
    def privacy(self) -> PrivacyService:
        from faultmaven.privacy.service import PrivacyService

        return PrivacyService(
            auth=self.auth,
            cases=self.cases,
            evidence=self.evidence,
            knowledge=self.knowledge,
            organizations=self.organizations,
            sessions=self.sessions,
            history=self.history,
            jobs=self.jobs,
            objects=self.objects,
            tasks=self.tasks,
            url_ttl_seconds=self.settings.presigned_url_ttl_seconds,
        )

    @cached_property
    def tasks(self) -> TaskQueue:
        """Background tasks: an asynchronous Lambda on AWS, a worker thread locally."""
        function = self.settings.task_function_name
        if function is not None:
            from faultmaven.adapters.tasks import LambdaTaskQueue

            return LambdaTaskQueue(self.settings, function)
        from faultmaven.adapters.tasks import InProcessTaskQueue

        return InProcessTaskQueue(self.run_task)

    def run_task(self, task: str, payload: dict[str, str]) -> None:
        """What a background task is, by name (the tasks function and the local worker
        both come here)."""
        from faultmaven.agent.attachments import TURN_TASK
        from faultmaven.privacy.models import DELETE_TASK, EXPORT_TASK

        if task == TURN_TASK:
            self.attached_turns.run_job(payload["job_id"])
            return

        if task == EXPORT_TASK:
            self.privacy.run_export(payload["job_id"], payload["user_id"])
            return
        if task == DELETE_TASK:
            self.privacy.run_deletion(payload["user_id"], payload.get("successor_id"))
            return
        raise ValueError(f"unknown task {task!r}")

    @cached_property
    def protection(self) -> ProtectionService | None:
        """Rate limits and reputation; None when turned off. Its Redis client is its own
        (short timeouts, no retries), so a slow Redis never holds a request for long."""
        if not self.settings.protection_enabled or self.settings.redis_url is None:
            return None
        from faultmaven.adapters.redis_protection import RedisProtectionCounters
        from faultmaven.protection.wiring import build_protection

        counters = RedisProtectionCounters.from_url(
            self.settings.redis_url, timeout_seconds=self.settings.protection_redis_timeout_seconds
        )
        return build_protection(self.settings, self.database, counters)

    def close(self) -> None:
        if self.__dict__.get("protection") is not None:
            self.protection.close()  # type: ignore[union-attr]
        self.database.dispose()
        self.kv.close()

    def reconnect(self) -> None:
        """Drop connections inherited from a snapshot; pools refill on next use."""
        self.database.dispose()
        self.kv.client.connection_pool.reset()
        if self.__dict__.get("protection") is not None:
            self.protection.reconnect()  # type: ignore[union-attr]


def _language_model(kind: LLMProviderKind, settings: Settings) -> LanguageModel:
    if kind is LLMProviderKind.ANTHROPIC:
        from faultmaven.adapters.llm.anthropic import AnthropicLanguageModel

        return AnthropicLanguageModel(
            model=settings.llm_model,
            api_key=partial(_anthropic_key, settings),
            base_url=settings.anthropic_base_url,
        )
    if kind is LLMProviderKind.BEDROCK:
        from faultmaven.adapters.llm.bedrock import BedrockLanguageModel

        return BedrockLanguageModel(
            model=settings.bedrock_llm_model, region=settings.bedrock_region or settings.aws_region
        )
    if kind is LLMProviderKind.OPENAI_COMPATIBLE:
        from faultmaven.adapters.llm.openai_compatible import OpenAICompatibleLanguageModel

        assert settings.openai_compatible_base_url
        assert settings.openai_compatible_model
        key = settings.openai_compatible_api_key
        return OpenAICompatibleLanguageModel(
            model=settings.openai_compatible_model,
            base_url=settings.openai_compatible_base_url,
            api_key=key.get_secret_value() if key is not None else None,
        )
    from faultmaven.adapters.llm.offline import OfflineLanguageModel

    return OfflineLanguageModel()


def _anthropic_key(settings: Settings) -> str:
    """The API key, read when the client is first built: from the environment, or from
    Secrets Manager on AWS (the secret holds the bare key)."""
    from faultmaven.core.llm import ProviderAuthError, ProviderConnectionError

    if settings.anthropic_api_key is not None:
        return settings.anthropic_api_key.get_secret_value()
    if settings.anthropic_api_key_secret_arn:
        from faultmaven.adapters.aws import SecretsManagerSource

        try:
            key = SecretsManagerSource(settings).get_secret(settings.anthropic_api_key_secret_arn)
        except Exception as exc:  # any SDK failure: retryable, like a connection error
            raise ProviderConnectionError("the Anthropic API key could not be read") from exc
        if key.strip() and key.strip() != ANTHROPIC_KEY_PLACEHOLDER:
            return key.strip()
    raise ProviderAuthError("no Anthropic API key is configured")


def _load_signing_key(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_arn is not None:
        from faultmaven.adapters.aws import SecretsManagerSource

        try:
            return SecretsManagerSource(settings).get_secret(settings.jwt_secret_arn)
        except Exception as exc:  # any SDK failure: the API cannot authenticate anyone
            raise ServiceUnavailableError("The signing key is unavailable") from exc
    if settings.environment is Environment.AWS:
        raise SettingsError("FAULTMAVEN_JWT_SECRET_ARN is required on AWS")
    # Tests and throwaway local runs: a random key, so tokens die with the process.
    return secrets.token_urlsafe(48)


def build_container(settings: Settings) -> Container:
    if settings.redis_url is None:
        raise SettingsError("FAULTMAVEN_REDIS_URL (or REDIS_URL) is not set")
    return Container(
        settings,
        Database.from_settings(settings),
        RedisKeyValueStore.from_url(
            settings.redis_url, timeout_seconds=settings.redis_timeout_seconds
        ),
    )
