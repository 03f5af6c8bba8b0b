"""The evidence bucket: raw artifacts under `artifacts/`, pipeline work files under
`work/`, large knowledge documents under `knowledge/` until the upload trigger has
ingested them (the text then lives in PostgreSQL and the vector store). Private,
TLS-only, encrypted, with CORS for presigned uploads from the browser extension and
dashboard origins, and lifecycle rules that match the retention policy."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from faultmaven.core.storage import ARTIFACTS, EXPORTS, KNOWLEDGE_UPLOADS, WORK

ARTIFACT_DAYS = 90
WORK_FILE_DAYS = 7
# The trigger deletes a knowledge upload once it is ingested; this is the backstop for
# the ones never ingested (an abandoned upload, an ingestion that kept failing).
KNOWLEDGE_UPLOAD_DAYS = 7
# A user's data export: long enough to download, not a second copy kept for ever.
EXPORT_DAYS = 7


class EvidenceBucket(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        allowed_origins: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="access-logs-1-year", expiration=Duration.days(365))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        cors = (
            [
                s3.CorsRule(
                    # Presigned POST (upload form) and GET (download); nothing else.
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(allowed_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ]
            if allowed_origins
            else None
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="evidence/",
            cors=cors,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="artifacts-90-days",
                    prefix=ARTIFACTS,
                    expiration=Duration.days(ARTIFACT_DAYS),
                ),
                s3.LifecycleRule(
                    id="work-files-7-days", prefix=WORK, expiration=Duration.days(WORK_FILE_DAYS)
                ),
                s3.LifecycleRule(
                    id="knowledge-uploads-7-days",
                    prefix=KNOWLEDGE_UPLOADS,
                    expiration=Duration.days(KNOWLEDGE_UPLOAD_DAYS),
                ),
                s3.LifecycleRule(
                    id="exports-7-days", prefix=EXPORTS, expiration=Duration.days(EXPORT_DAYS)
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
