"""On AWS the JWT key is read from Secrets Manager (the session's moto server here), once,
on first use. (Not `mock_aws`: leaving it resets moto's state, which the moto server in
this process shares.)"""

from __future__ import annotations

import secrets

import jwt
from fastapi.testclient import TestClient

from faultmaven.adapters.aws import client
from faultmaven.app import create_app
from faultmaven.container import build_container
from faultmaven.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import Api, assert_envelope

KEY = "key-from-secrets-manager-" + "k" * 32


def _with_key_arn(settings: Settings, arn: str) -> Settings:
    return make_settings(
        settings.database_url or "",
        settings.redis_url or "",
        aws_endpoint_url=settings.aws_endpoint_url,
        jwt_secret=None,
        jwt_secret_arn=arn,
    )


def test_tokens_are_signed_with_the_secret_from_secrets_manager(settings: Settings) -> None:
    name = f"faultmaven/jwt-{secrets.token_hex(4)}"
    arn = client("secretsmanager", settings).create_secret(Name=name, SecretString=KEY)["ARN"]
    container = build_container(_with_key_arn(settings, arn))
    try:
        with TestClient(create_app(container=container)) as http:
            api = Api(http)
            user = api.user()
            claims = jwt.decode(user.token, KEY, algorithms=["HS256"], issuer="faultmaven")
            assert claims["sub"] == user.user_id
            assert api.call("GET", "/auth/me", user).status_code == 200
    finally:
        container.close()


def test_an_unreadable_secret_is_a_503_not_a_crash(settings: Settings) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:faultmaven/missing-AbCdEf"
    container = build_container(_with_key_arn(settings, missing))
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"})
            assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    finally:
        container.close()
