"""Run Alembic programmatically: no alembic.ini to find, the script location is inside
the package so the same code migrates from a laptop, CI or a Lambda trigger."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(sqlalchemy_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(sqlalchemy_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(sqlalchemy_url), revision)


def downgrade(sqlalchemy_url: str, revision: str) -> None:
    command.downgrade(alembic_config(sqlalchemy_url), revision)


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def upgrade_engine(
    engine: Engine, revision: str = "head", *, connect_within_seconds: float = 0
) -> None:
    """Migrate over an engine the caller built, so its connection hooks (the RDS IAM
    token on AWS) apply to Alembic's connection too.

    `connect_within_seconds`: keep trying to connect that long. At deploy time the RDS
    Proxy target can refuse connections for a few minutes after it is registered; only
    connecting is retried, never a migration that started."""
    from sqlalchemy.exc import OperationalError

    config = alembic_config(engine.url.render_as_string(hide_password=True))
    deadline = time.monotonic() + connect_within_seconds
    pause = 1.0
    while True:
        try:
            connection = engine.connect()
        except OperationalError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 15.0)
            continue
        break
    with connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
