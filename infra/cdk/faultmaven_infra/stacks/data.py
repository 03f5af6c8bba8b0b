"""The data stack: everything durable (Aurora + RDS Proxy, the vector collection, the
evidence bucket, the secrets), the cache, and two deploy-time triggers: the migration
that brings the schema up before any function of a later stack is updated, then the
load of the global knowledge base (shipped in the layer) into the new schema."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, SecretValue, Stack, triggers
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from faultmaven.core.settings import ANTHROPIC_KEY_PLACEHOLDER
from faultmaven_infra.config import DeployConfig
from faultmaven_infra.constructs.cache import Cache
from faultmaven_infra.constructs.database import Database
from faultmaven_infra.constructs.evidence_bucket import EvidenceBucket
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.layers import Layers
from faultmaven_infra.constructs.network import Network
from faultmaven_infra.constructs.vectors import VectorCollection
from faultmaven_infra.runtime import Runtime

# The trigger's provider (a CDK singleton) itself stops at 15 minutes: the seed must
# finish, and be seen to finish, inside that.
SEED_TIMEOUT = Duration.minutes(13)
SEED_INVOCATION_TIMEOUT = Duration.minutes(14)


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        database = Database(
            self, "Database", network=network, log_retention_days=config.log_retention_days
        )
        cache = Cache(self, "Cache", network=network)
        vectors = (
            VectorCollection(self, "Vectors", network=network)
            if config.vector_store == "opensearch"
            else None
        )
        evidence = EvidenceBucket(
            self,
            "Evidence",
            bucket_name=config.evidence_bucket_name,
            allowed_origins=config.allowed_origins,
        )
        jwt_secret = secretsmanager.Secret(
            self,
            "JwtSigningKey",
            description="FaultMaven: HMAC key that signs access and refresh tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        anthropic_secret = secretsmanager.Secret(
            self,
            "AnthropicApiKey",
            description=(
                "FaultMaven: Anthropic API key; store yours with "
                "`aws secretsmanager put-secret-value` (README, Deploy to AWS)"
            ),
            # A known placeholder, not a generated password: until a key is stored the
            # functions know there is none and never send a junk key to Anthropic.
            secret_string_value=SecretValue.unsafe_plain_text(ANTHROPIC_KEY_PLACEHOLDER),
        )
        self.runtime = Runtime(
            config=config,
            network=network,
            database=database,
            cache=cache,
            bucket=evidence.bucket,
            jwt_secret=jwt_secret,
            anthropic_secret=anthropic_secret,
            vectors=vectors,
        )

        layers = Layers(self, "Layers", assets_dir=config.assets_dir)
        self.migrate = ServiceFunction(
            self,
            "Migrate",
            source="migrate",
            description="database migrations (run at deploy time)",
            layers=layers.service,
            network=network,
            environment=self.runtime.environment(),
            log_retention_days=config.log_retention_days,
            timeout=Duration.minutes(5),
            memory_size=512,
        )
        self.runtime.grant_stores(self.migrate.role)
        self.migration = triggers.Trigger(
            self,
            "RunMigrations",
            handler=self.migrate.function,
            execute_after=[database],  # cluster, proxy and the security group rules between
            execute_on_handler_change=True,
            timeout=Duration.minutes(5),
        )

        self.kb_seed = ServiceFunction(
            self,
            "KnowledgeSeed",
            source="kb_seed",
            description="global knowledge base load (run at deploy time)",
            layers=layers.service,
            network=network,
            environment=self.runtime.environment(),
            log_retention_days=config.log_retention_days,
            timeout=SEED_TIMEOUT,
        )
        self.runtime.grant_stores(self.kb_seed.role)
        self.runtime.grant_embedding(self.kb_seed.role)
        seed_vectors = self.runtime.grant_vectors(self, "SeedVectorAccess", [self.kb_seed.role])
        # The schema first; with OpenSearch, also the collection and the seed's data access
        # policy (nothing in the function's configuration refers to the policy).
        seed_after: list[Construct] = [self.migration]
        if vectors is not None and seed_vectors is not None:
            seed_after += [vectors, seed_vectors]
        # Here rather than in a later stack: the seed needs only what this stack holds,
        # and the API is rolled out over a searchable global KB.
        self.kb_seeding = triggers.Trigger(
            self,
            "SeedGlobalKnowledge",
            handler=self.kb_seed.function,
            execute_after=seed_after,
            # A new layer is a new function version, so changed articles are loaded by
            # the deploy that ships them; unchanged ones are skipped by content hash.
            execute_on_handler_change=True,
            timeout=SEED_INVOCATION_TIMEOUT,
        )
        CfnOutput(self, "EvidenceBucketName", value=evidence.bucket.bucket_name)
        CfnOutput(self, "AnthropicApiKeySecretArn", value=anthropic_secret.secret_arn)
        if vectors is not None:
            CfnOutput(self, "VectorCollectionEndpoint", value=vectors.endpoint_url)
