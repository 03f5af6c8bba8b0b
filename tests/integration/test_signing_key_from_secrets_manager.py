"""On AWS the JWT key is read from Secrets Manager (moto here), once, on first use."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from faultmaven.app import create_app
from faultmaven.container import build_container
from faultmaven.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import Api, assert_envelope

KEY = "key-from-secrets-manager-" + "k" * 32


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_tokens_are_signed_with_the_secret_from_secrets_manager(
    aws: None, database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="faultmaven/jwt", SecretString=KEY
    )["ARN"]
    settings: Settings = make_settings(database_url, redis_url, jwt_secret=None, jwt_secret_arn=arn)
    container = build_container(settings)
    try:
        with TestClient(create_app(container=container)) as client:
            api = Api(client)
            user = api.user()
            claims = jwt.decode(user.token, KEY, algorithms=["HS256"], issuer="faultmaven")
            assert claims["sub"] == user.user_id
            assert api.call("GET", "/auth/me", user).status_code == 200
    finally:
        container.close()


def test_an_unreadable_secret_is_a_503_not_a_crash(
    aws: None, database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:faultmaven/missing-AbCdEf"
    container = build_container(
        make_settings(database_url, redis_url, jwt_secret=None, jwt_secret_arn=missing)
    )
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"})
            assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    finally:
        container.close()
