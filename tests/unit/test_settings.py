"""Settings are validated at start and a bad one is named."""

from __future__ import annotations

import pytest

from faultmaven.core.settings import Environment, SettingsError, load_settings


def test_defaults_are_valid_for_local_work(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.environment is Environment.LOCAL
    assert settings.session_ttl_minutes == 60
    assert settings.port == 8000
    assert settings.metrics_namespace == "FaultMaven"


def test_database_and_redis_urls_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.internal:5432/fm")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.internal:6379/0")
    settings = load_settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db.internal:5432/fm"
    assert settings.redis_url == "rediss://cache.internal:6379/0"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FAULTMAVEN_SESSION_TTL_MINUTES", "30", "FAULTMAVEN_SESSION_TTL_MINUTES"),
        ("FAULTMAVEN_SESSION_TTL_MINUTES", "481", "FAULTMAVEN_SESSION_TTL_MINUTES"),
        ("FAULTMAVEN_PORT", "not-a-port", "FAULTMAVEN_PORT"),
        ("FAULTMAVEN_LOG_LEVEL", "LOUD", "FAULTMAVEN_LOG_LEVEL"),
        ("FAULTMAVEN_ENVIRONMENT", "staging", "FAULTMAVEN_ENVIRONMENT"),
        ("FAULTMAVEN_JWT_ALGORITHM", "none", "FAULTMAVEN_JWT_ALGORITHM"),
        ("FAULTMAVEN_ACCESS_TOKEN_TTL_SECONDS", "5", "FAULTMAVEN_ACCESS_TOKEN_TTL_SECONDS"),
        # CloudWatch refuses these namespaces; better at start than a silent metric loss.
        ("FAULTMAVEN_METRICS_NAMESPACE", "", "FAULTMAVEN_METRICS_NAMESPACE"),
        ("FAULTMAVEN_METRICS_NAMESPACE", ":FaultMaven", "FAULTMAVEN_METRICS_NAMESPACE"),
        ("FAULTMAVEN_METRICS_NAMESPACE", "Fault$Maven", "FAULTMAVEN_METRICS_NAMESPACE"),
        ("FAULTMAVEN_METRICS_NAMESPACE", "x" * 256, "FAULTMAVEN_METRICS_NAMESPACE"),
    ],
)
def test_a_bad_setting_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysql://db/fm", "postgresql"),
        ("REDIS_URL", "memcached://x", "redis"),
        ("FAULTMAVEN_JWT_SECRET", "short", "32 characters"),
        ("FAULTMAVEN_METRICS_NAMESPACE", "AWS/Lambda", "reserved by AWS"),
    ],
)
def test_inconsistent_values_are_explained(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_aws_requires_its_stores_and_a_key_source(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "FAULTMAVEN_JWT_SECRET", "FAULTMAVEN_JWT_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAULTMAVEN_ENVIRONMENT", "aws")
    with pytest.raises(SettingsError, match="database_url, redis_url, jwt_secret_arn"):
        load_settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql://proxy/fm")
    monkeypatch.setenv("REDIS_URL", "rediss://cache:6379")
    monkeypatch.setenv("FAULTMAVEN_JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:k")
    assert load_settings().environment is Environment.AWS


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTMAVEN_JWT_SECRET", "s" * 40)
    settings = load_settings()
    assert "s" * 40 not in repr(settings)
    assert "s" * 40 not in str(settings.model_dump())


def test_a_metrics_namespace_may_use_what_cloudwatch_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAULTMAVEN_METRICS_NAMESPACE", "Team A/FaultMaven:prod#2_x.y-z")
    assert load_settings().metrics_namespace == "Team A/FaultMaven:prod#2_x.y-z"
