"""The composition root: the one place that builds adapters from settings and hands them
to the domain services. Built once per process (Lambda init, local start), so pools and
clients are reused across requests and warm invocations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import partial

from faultmaven.adapters.aws import SecretsManagerSource
from faultmaven.adapters.postgres import Database
from faultmaven.adapters.redis import RedisKeyValueStore
from faultmaven.auth.passwords import Passwords
from faultmaven.auth.service import AuthService
from faultmaven.auth.throttle import LoginThrottle
from faultmaven.auth.tokens import SigningKey, Tokens
from faultmaven.cases.service import CaseService
from faultmaven.core.errors import ServiceUnavailableError
from faultmaven.core.settings import Settings, SettingsError
from faultmaven.organizations.service import OrganizationService
from faultmaven.sessions.service import SessionService


@dataclass
class Container:
    settings: Settings
    database: Database
    kv: RedisKeyValueStore
    auth: AuthService
    sessions: SessionService
    cases: CaseService
    organizations: OrganizationService

    def close(self) -> None:
        self.database.dispose()
        self.kv.close()

    def reconnect(self) -> None:
        """Drop connections inherited from a snapshot; pools refill on next use."""
        self.database.dispose()
        self.kv.client.connection_pool.reset()


def _load_signing_key(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_arn is not None:
        try:
            return SecretsManagerSource(settings).get_secret(settings.jwt_secret_arn)
        except Exception as exc:  # any SDK failure: the API cannot authenticate anyone
            raise ServiceUnavailableError("The signing key is unavailable") from exc
    if settings.environment.value == "aws":
        raise SettingsError("FAULTMAVEN_JWT_SECRET_ARN is required on AWS")
    # Tests and throwaway local runs: a random key, so tokens die with the process.
    return secrets.token_urlsafe(48)


def build_container(settings: Settings) -> Container:
    if settings.redis_url is None:
        raise SettingsError("FAULTMAVEN_REDIS_URL (or REDIS_URL) is not set")
    database = Database.from_settings(settings)
    kv = RedisKeyValueStore.from_url(settings.redis_url)
    tokens = Tokens(
        SigningKey(partial(_load_signing_key, settings)),
        kv,
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        access_ttl=settings.access_token_ttl_seconds,
        refresh_ttl=settings.refresh_token_ttl_seconds,
    )
    passwords = Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    return Container(
        settings=settings,
        database=database,
        kv=kv,
        auth=AuthService(database, passwords, tokens, LoginThrottle(kv)),
        sessions=SessionService(
            kv,
            default_ttl_minutes=settings.session_ttl_minutes,
            max_sessions_per_user=settings.max_sessions_per_user,
        ),
        cases=CaseService(database),
        organizations=OrganizationService(database),
    )
