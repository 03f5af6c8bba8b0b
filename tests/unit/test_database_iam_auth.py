"""RDS Proxy with IAM auth: each new connection carries a freshly signed token over TLS."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from faultmaven.adapters.postgres import Database
from faultmaven.core.settings import SettingsError, load_settings


class _StopError(Exception):
    """Raised by the test's listener so no network connection is attempted."""


def _connect_params(database: Database) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    @event.listens_for(database.engine, "do_connect")
    def _record(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _StopError

    with pytest.raises(_StopError):
        database.engine.connect()
    return seen


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key-0000000000000000")


@pytest.mark.usefixtures("aws_credentials")
def test_each_connection_gets_a_signed_token_and_tls() -> None:
    settings = load_settings(
        database_url="postgresql://faultmaven@proxy.example.internal:5432/faultmaven",
        database_iam_auth=True,
        aws_region="eu-west-1",
    )
    params = _connect_params(Database.from_settings(settings))
    token = params["password"]
    assert token.startswith("proxy.example.internal:5432/?")
    assert "Action=connect" in token
    assert "DBUser=faultmaven" in token
    assert "X-Amz-Signature=" in token
    assert "eu-west-1" in token
    assert params["sslmode"] == "require"


@pytest.mark.usefixtures("aws_credentials")
def test_without_iam_auth_the_url_password_is_used() -> None:
    settings = load_settings(database_url="postgresql://app:pw@db.internal:5432/faultmaven")
    params = _connect_params(Database.from_settings(settings))
    assert params["password"] == "pw"
    assert "sslmode" not in params


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://faultmaven:secret@proxy.internal:5432/fm",  # a password beside IAM
        "postgresql://proxy.internal:5432/fm",  # no user to sign for
    ],
)
def test_iam_auth_refuses_urls_it_cannot_sign_for(url: str) -> None:
    with pytest.raises(SettingsError, match="database_iam_auth"):
        load_settings(database_url=url, database_iam_auth=True)
