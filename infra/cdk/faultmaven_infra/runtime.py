"""What every FaultMaven function is configured with, and the grants that go with it.

Functions read settings from environment variables (`faultmaven.core.settings`) and
secrets by ARN at run time; no secret value is ever placed in their configuration."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from faultmaven_infra.config import DeployConfig
from faultmaven_infra.constructs.cache import Cache
from faultmaven_infra.constructs.database import Database
from faultmaven_infra.constructs.network import Network
from faultmaven_infra.constructs.vectors import VectorAccess, VectorCollection

# The embedder on AWS: the environment and the IAM grant name the same model, so a
# function can never be configured for a model its role may not invoke. Changing either
# value means re-indexing (the vector index records the model and dimension).
EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"
EMBEDDING_DIMENSION = 1024


@dataclass(frozen=True)
class Runtime:
    config: DeployConfig
    network: Network
    database: Database
    cache: Cache
    bucket: s3.IBucket
    jwt_secret: secretsmanager.ISecret
    anthropic_secret: secretsmanager.ISecret
    vectors: VectorCollection | None

    def environment(self, **extra: str) -> dict[str, str]:
        environment = {
            "FAULTMAVEN_ENVIRONMENT": "aws",
            "FAULTMAVEN_LOG_LEVEL": "INFO",
            # EMF metrics of every function land in one namespace per deployment.
            "FAULTMAVEN_METRICS_NAMESPACE": self.config.stack_prefix,
            "DATABASE_URL": self.database.url,
            "FAULTMAVEN_DATABASE_IAM_AUTH": "true",
            "REDIS_URL": self.cache.url,
            "FAULTMAVEN_JWT_SECRET_ARN": self.jwt_secret.secret_arn,
            "FAULTMAVEN_ANTHROPIC_API_KEY_SECRET_ARN": self.anthropic_secret.secret_arn,
            "FAULTMAVEN_EVIDENCE_BUCKET": self.config.evidence_bucket_name,
            "FAULTMAVEN_CORS_ORIGINS": json.dumps(list(self.config.allowed_origins)),
            "FAULTMAVEN_VECTOR_STORE": self.config.vector_store,
            # Every function, not only those that embed: the vector index records the
            # model, and a function built with another embedder would refuse the index.
            "FAULTMAVEN_EMBEDDER": "bedrock",
            "FAULTMAVEN_BEDROCK_EMBEDDING_MODEL": EMBEDDING_MODEL,
            "FAULTMAVEN_BEDROCK_EMBEDDING_DIMENSION": str(EMBEDDING_DIMENSION),
            "FAULTMAVEN_LLM_PROVIDER": self.config.llm_provider,
            "FAULTMAVEN_LLM_MODEL": self.config.llm_model,
            "FAULTMAVEN_BEDROCK_LLM_MODEL": self.config.bedrock_llm_model,
            # Every function: a container resolves the investigation's workflow lazily,
            # and any of them may end up starting, resuming or failing a run.
            "FAULTMAVEN_INVESTIGATION_STATE_MACHINE_ARN": self.investigation_state_machine_arn,
        }
        if self.config.llm_fallback is not None:
            environment["FAULTMAVEN_LLM_FALLBACK"] = self.config.llm_fallback
        if self.vectors is not None:
            environment["FAULTMAVEN_OPENSEARCH_URL"] = self.vectors.endpoint_url
            # OpenSearch Serverless answers only requests signed (service `aoss`) with a
            # principal named in the collection's data access policy.
            environment["FAULTMAVEN_OPENSEARCH_SIGV4"] = "true"
        environment.update(extra)
        return environment

    @property
    def bucket_arn(self) -> str:
        """Built from the literal name, so consuming stacks need no export for it."""
        return f"arn:{Aws.PARTITION}:s3:::{self.config.evidence_bucket_name}"

    @property
    def investigation_state_machine_name(self) -> str:
        """Named, not generated, like the bucket: the machine's own tasks and the other
        stacks' functions get its ARN as a literal, which no cross-stack export or
        reference cycle (machine → task function → machine) stands behind."""
        return f"{self.config.stack_prefix}-investigation"

    @property
    def investigation_state_machine_arn(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:states:{self.config.region}:{self.config.account}"
            f":stateMachine:{self.investigation_state_machine_name}"
        )

    def grant_start_investigation(self, role: iam.IRole) -> None:
        """states:StartExecution on the investigation machine alone."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[self.investigation_state_machine_arn],
            )
        )

    def grant_investigation_task_response(self, role: iam.IRole) -> None:
        """Resume (SendTaskSuccess) or fail (SendTaskFailure) a run parked on a task
        token. Step Functions authorises these on the state machine the token belongs
        to; CDK's `grant_task_response` would add SendTaskHeartbeat, which nothing sends."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[self.investigation_state_machine_arn],
            )
        )

    def grant_objects(self, role: iam.IRole, prefix: str, *actions: str) -> None:
        """Exactly these object actions under one key prefix (`artifacts/`, `work/`):
        narrower than CDK's bucket grants, which add wildcard actions."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=[f"{self.bucket_arn}/{prefix}*"])
        )
        if "s3:GetObject" in actions:
            # Without ListBucket, S3 answers a HeadObject of a missing key (expired by the
            # lifecycle rule, never uploaded) with 403 instead of 404; HeadObject carries
            # no s3:prefix, so this grant cannot be narrowed by a condition.
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket_arn])
            )
        elif "s3:DeleteObject" in actions:  # deleting a prefix lists it first
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[self.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )

    def grant_stores(self, role: iam.IRole) -> None:
        """PostgreSQL through the proxy (Redis is reachable by security group alone)."""
        self.database.grant_connect(role)

    def grant_embedding(self, role: iam.IRole) -> None:
        """bedrock:InvokeModel on the one foundation model the functions are configured
        with, in the stack's region (foundation-model ARNs carry no account)."""
        model_arn = Stack.of(role).format_arn(
            service="bedrock",
            account="",
            resource="foundation-model",
            resource_name=EMBEDDING_MODEL,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[model_arn])
        )

    def grant_llm(self, role: iam.IRole) -> None:
        """What a function that calls the language model needs: the API key's secret
        for Anthropic; for Bedrock, bedrock:InvokeModel (and its streaming form) on exactly
        the configured model. An inference profile (`us.anthropic.…`) routes to the same
        foundation model in several regions, so the grant names the profile and that one
        model in any region."""
        providers = {self.config.llm_provider, self.config.llm_fallback}
        if "anthropic" in providers:
            self.anthropic_secret.grant_read(role)
        if "bedrock" not in providers:
            return
        stack = Stack.of(role)
        model = self.config.bedrock_llm_model
        profile = re.fullmatch(r"(?:us|eu|apac|au|ca|jp|us-gov|global)\.(.+)", model)
        resources = []
        if profile is not None:
            resources.append(
                stack.format_arn(
                    service="bedrock",
                    resource="inference-profile",
                    resource_name=model,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            )
            resources.append(
                stack.format_arn(
                    service="bedrock",
                    region="*",
                    account="",
                    resource="foundation-model",
                    resource_name=profile.group(1),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            )
        else:
            resources.append(
                stack.format_arn(
                    service="bedrock",
                    account="",
                    resource="foundation-model",
                    resource_name=model,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                resources=resources,
            )
        )

    def grant_vectors(
        self,
        scope: Construct,
        construct_id: str,
        roles: list[iam.IRole],
        *,
        read_only: bool = False,
    ) -> VectorAccess | None:
        """Read and write (or, `read_only`, only search) the knowledge and case-memory
        vectors. With OpenSearch: the collection's data access policy for these roles
        (created in `scope`, the stack that owns them) and aoss:APIAccessAll on it. With
        pgvector the vectors live in the database, which `grant_stores` already reaches:
        nothing to add."""
        if self.vectors is None:
            return None
        return VectorAccess(
            scope,
            construct_id,
            collection_name=self.vectors.name,
            collection_arn=self.vectors.arn,
            roles=roles,
            read_only=read_only,
        )

    def grant_api(self, role: iam.IRole) -> None:
        """An API function verifies and signs tokens with the key in Secrets Manager."""
        self.grant_stores(role)
        self.jwt_secret.grant_read(role)
