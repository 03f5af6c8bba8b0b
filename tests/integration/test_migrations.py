"""Alembic migrations: they build exactly the schema the code declares, and go down and
up again cleanly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from faultmaven.db import migrate
from faultmaven.db.tables import Base


def test_migrated_schema_matches_the_declared_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


@pytest.fixture
def scratch_database(server_database_url: str) -> Iterator[str]:
    name = f"fm_scratch_{secrets.token_hex(4)}"
    admin_url = make_url(server_database_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_downgrade_to_base_and_upgrade_again(scratch_database: str) -> None:
    migrate.upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        expected = set(Base.metadata.tables)
        assert expected <= set(inspect(engine).get_table_names())
        migrate.downgrade(scratch_database, "base")
        engine.dispose()
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(scratch_database)
        engine.dispose()
        assert expected <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == migrate.current_head()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(scratch_database: str) -> None:
    migrate.upgrade(scratch_database)
    migrate.upgrade(scratch_database)  # a second run (every cold deploy) changes nothing
