"""boto3 clients, built lazily: importing boto3 costs ~0.3 s of cold start, which routes
that never touch AWS should not pay."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from faultmaven.core.settings import Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

_lock = threading.Lock()


@cache
def _client(service: str, region: str, endpoint_url: str | None) -> BaseClient:
    import boto3

    from faultmaven.core.observability import trace_aws_calls

    trace_aws_calls()  # X-Ray subsegment per AWS call, patched once boto3 is loaded anyway
    with _lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
        )


def client(service: str, settings: Settings) -> Any:
    return _client(service, settings.aws_region, settings.aws_endpoint_url)


class SecretsManagerSource:
    """Reads secret strings from AWS Secrets Manager (moto locally)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get_secret(self, secret_id: str) -> str:
        response = client("secretsmanager", self._settings).get_secret_value(SecretId=secret_id)
        return str(response["SecretString"])

    def create_secret(self, name: str, value: str) -> str:
        response = client("secretsmanager", self._settings).create_secret(
            Name=name, SecretString=value
        )
        return str(response["ARN"])

    def delete_secret(self, secret_id: str) -> None:
        """Deleted at once, without the recovery window: the secret signs one integration's
        deliveries, and that integration is gone."""
        import botocore.exceptions

        try:
            client("secretsmanager", self._settings).delete_secret(
                SecretId=secret_id, ForceDeleteWithoutRecovery=True
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
