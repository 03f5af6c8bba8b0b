"""What every FaultMaven function is configured with, and the grants that go with it.

Functions read settings from environment variables (`faultmaven.core.settings`) and
secrets by ARN at run time; no secret value is ever placed in their configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from faultmaven_infra.config import DeployConfig
from faultmaven_infra.constructs.cache import Cache
from faultmaven_infra.constructs.database import Database
from faultmaven_infra.constructs.network import Network
from faultmaven_infra.constructs.vectors import VectorCollection

ARTIFACTS = "artifacts/"
WORK_FILES = "work/"


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
            "DATABASE_URL": self.database.url,
            "FAULTMAVEN_DATABASE_IAM_AUTH": "true",
            "REDIS_URL": self.cache.url,
            "FAULTMAVEN_JWT_SECRET_ARN": self.jwt_secret.secret_arn,
            "FAULTMAVEN_ANTHROPIC_API_KEY_SECRET_ARN": self.anthropic_secret.secret_arn,
            "FAULTMAVEN_EVIDENCE_BUCKET": self.config.evidence_bucket_name,
            "FAULTMAVEN_CORS_ORIGINS": json.dumps(list(self.config.allowed_origins)),
            "FAULTMAVEN_VECTOR_STORE": self.config.vector_store,
        }
        if self.vectors is not None:
            environment["FAULTMAVEN_OPENSEARCH_URL"] = self.vectors.endpoint_url
        environment.update(extra)
        return environment

    @property
    def bucket_arn(self) -> str:
        """Built from the literal name, so consuming stacks need no export for it."""
        return f"arn:{Aws.PARTITION}:s3:::{self.config.evidence_bucket_name}"

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

    def grant_api(self, role: iam.IRole) -> None:
        """An API function verifies and signs tokens with the key in Secrets Manager."""
        self.grant_stores(role)
        self.jwt_secret.grant_read(role)
