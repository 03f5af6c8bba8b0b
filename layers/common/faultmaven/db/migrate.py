"""Run Alembic programmatically: no alembic.ini to find, the script location is inside
the package so the same code migrates from a laptop, CI or a Lambda trigger."""

from __future__ import annotations

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


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Migrate over an engine the caller built, so its connection hooks (the RDS IAM
    token on AWS) apply to Alembic's connection too."""
    config = alembic_config(engine.url.render_as_string(hide_password=True))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
