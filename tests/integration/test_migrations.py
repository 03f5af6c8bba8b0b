"""Alembic migrations: they build exactly the schema the code declares, and go down and
up again cleanly."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from faultmaven.core.settings import get_settings
from faultmaven.db import migrate
from faultmaven.db.tables import Base
from faultmaven.local.aws import LambdaContext
from tests.conftest import ROOT


def test_migrated_schema_matches_the_declared_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": _declared_or_not_runtime_index}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _declared_or_not_runtime_index(name: str | None, type_: str, parents: object) -> bool:
    """The HNSW index is built by the pgvector adapter for the embedder's dimension, so it
    is not among the declared tables (see adapters/vectors/pgvector.py)."""
    return not (type_ == "index" and name is not None and name.startswith("ix_vector_chunks_hnsw_"))


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


def _schema(engine: Engine) -> dict[str, dict[str, str]]:
    """Every table's columns with their types and nullability, as PostgreSQL reports them."""
    inspector = inspect(engine)
    return {
        table: {
            column["name"]: f"{column['type']} {'NULL' if column['nullable'] else 'NOT NULL'}"
            for column in inspector.get_columns(table)
        }
        for table in inspector.get_table_names()
    }


def test_upgrade_is_idempotent(scratch_database: str) -> None:
    """A second run (every cold deploy runs one) leaves the revision, the schema and the
    data exactly as they were."""
    migrate.upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        before = _schema(engine)
        with engine.begin() as connection:  # data of the first run, in a table of its own
            connection.execute(text("CREATE TABLE scratch_kept (note text)"))
            connection.execute(text("INSERT INTO scratch_kept VALUES ('kept')"))
        engine.dispose()
        migrate.upgrade(scratch_database)
        engine.dispose()
        after = _schema(engine)
        assert after.pop("scratch_kept") == {"note": "TEXT NULL"}
        assert after == before
        assert set(Base.metadata.tables) <= set(before)
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            kept = connection.execute(text("SELECT note FROM scratch_kept")).scalars().all()
            connection.execute(text("DROP TABLE scratch_kept"))
            connection.commit()
            context = MigrationContext.configure(
                connection, opts={"include_name": _declared_or_not_runtime_index}
            )
            diff = compare_metadata(context, Base.metadata)
        assert [row[0] for row in versions] == [migrate.current_head()]
        assert kept == ["kept"]
        assert diff == []
    finally:
        engine.dispose()


def test_the_deploy_trigger_function_migrates_an_empty_database(
    scratch_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """functions/migrate, as the CDK Trigger invokes it: configured by environment only."""
    monkeypatch.setenv("DATABASE_URL", scratch_database)
    get_settings.cache_clear()
    spec = importlib.util.spec_from_file_location(
        "migrate_handler", ROOT / "functions" / "migrate" / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        result = module.handler({"RequestType": "Create"}, LambdaContext("faultmaven-migrate"))
        result_again = module.handler(
            {"RequestType": "Update"}, LambdaContext("faultmaven-migrate")
        )
    finally:
        get_settings.cache_clear()
    assert result == result_again == {"revision": migrate.current_head()}
    engine = create_engine(scratch_database)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == migrate.current_head()
    finally:
        engine.dispose()


def test_connecting_is_retried_until_the_deadline_then_fails(scratch_database: str) -> None:
    """A proxy still warming up refuses connections; the migration keeps trying for a
    while, then reports the refusal instead of hanging the deployment."""
    engine = create_engine(make_url(scratch_database).set(host="127.0.0.1", port=1))
    attempts = []
    event.listen(engine, "do_connect", lambda *args: attempts.append(1))
    try:
        with pytest.raises(OperationalError):
            migrate.upgrade_engine(engine, connect_within_seconds=2.5)
    finally:
        engine.dispose()
    assert len(attempts) >= 2  # tried again after the first refusal
    engine = create_engine(scratch_database)
    try:
        assert "alembic_version" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


HISTORY_TABLES = {
    "history_sessions",
    "history_stages",
    "history_llm_interactions",
    "history_tool_interactions",
}


ALERT_TABLES = {"alert_integrations", "alerts"}
# 0017: the telemetry cluster registry
CLUSTER_TABLES = {"clusters"}


def test_the_alerts_revision_goes_down_and_up(scratch_database: str) -> None:
    migrate.upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        before = _schema(engine)
        migrate.downgrade(scratch_database, "0014")
        engine.dispose()
        assert set(before) - set(_schema(engine)) == ALERT_TABLES | CLUSTER_TABLES
        migrate.upgrade(scratch_database)
        engine.dispose()
        assert _schema(engine) == before
    finally:
        engine.dispose()


def test_the_history_revision_goes_down_and_up_on_its_own(scratch_database: str) -> None:
    """Below 0010 exactly the history tables are gone (later revisions may change other
    tables' columns), and going up again restores the schema as it was."""
    migrate.upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        before = _schema(engine)
        assert set(before) >= HISTORY_TABLES
        migrate.downgrade(scratch_database, "0008")
        engine.dispose()
        without = _schema(engine)
        # 0011 (above 0010) adds the running totals of the history's spend, 0012 the
        # agent's memory, 0013 the investigations (0014 adds a column to one), 0015 the
        # alerts.
        assert set(before) - set(without) == {
            *HISTORY_TABLES,
            "history_spend",
            "agent_memories",
            "investigations",
            "evidence_requests",
            *ALERT_TABLES,
            *CLUSTER_TABLES,
        }
        migrate.upgrade(scratch_database)
        engine.dispose()
        assert _schema(engine) == before
    finally:
        engine.dispose()


def test_the_spend_totals_are_filled_from_the_interactions_already_recorded(
    scratch_database: str,
) -> None:
    migrate.upgrade(scratch_database)
    migrate.downgrade(scratch_database, "0010")
    engine = create_engine(scratch_database)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (user_id, email, username, display_name, password_hash,"
                    " created_at, updated_at) VALUES ('usr_1', 'a@example.com', 'aaa', 'a', '!',"
                    " now(), now())"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO cases (case_id, owner_id, title, status, priority, created_at,"
                    " updated_at, status_changed_at) VALUES ('case_1', 'usr_1', 't', 'active',"
                    " 'medium', now(), now(), now())"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO history_sessions (id, case_id, agent_type, status,"
                    " started_at_us, chain_id) VALUES ('hist_a', 'case_1', 'a', 'completed', 1,"
                    " 'c'), ('hist_b', 'case_1', 'a', 'completed', 1, 'c')"
                )
            )
            for row, (session_id, tokens, cost) in enumerate(
                [("hist_a", 10, 0.5), ("hist_a", 5, 0.25), ("hist_b", 1, 0.125)]
            ):
                connection.execute(
                    text(
                        "INSERT INTO history_llm_interactions (id, session_id, timestamp_us,"
                        " step_description, provider, model_name, duration_ms, success,"
                        " input_tokens, output_tokens, cost_usd) VALUES (:id, :sid, 1, 's',"
                        " 'p', 'm', 1, true, :tokens, 1, :cost)"
                    ),
                    {"id": f"llm_{row}", "sid": session_id, "tokens": tokens, "cost": cost},
                )
        migrate.upgrade(scratch_database)
        with engine.connect() as connection:
            totals = {
                scope: (int(tokens), float(cost))
                for scope, tokens, cost in connection.execute(
                    text("SELECT scope, input_tokens + output_tokens, cost_usd FROM history_spend")
                )
            }
        assert totals == {
            "session:hist_a": (17, 0.75),
            "session:hist_b": (2, 0.125),
            "case:case_1": (19, 0.875),
        }
    finally:
        engine.dispose()


def test_history_rows_follow_their_case_and_outlive_their_starter(database_url: str) -> None:
    """At the database itself: removing a case removes its sessions, stages and
    interactions (CASCADE); removing the user who started a session keeps it, unnamed."""
    engine = create_engine(database_url)
    suffix = secrets.token_hex(16)
    user, case, kept, gone = (f"{p}_{suffix}" for p in ("usr", "case", "hist", "hisu"))
    statements = [
        "INSERT INTO users (user_id, email, username, display_name, password_hash, created_at,"
        " updated_at) VALUES (:user, :email, :name, 'u', '!', now(), now())",
        "INSERT INTO cases (case_id, owner_id, title, status, priority, created_at, updated_at,"
        " status_changed_at) VALUES (:case, :user, 't', 'active', 'medium', now(), now(), now())",
        "INSERT INTO history_sessions (id, case_id, owner_id, agent_type, status, started_at_us,"
        " chain_id) VALUES (:gone, :case, :user, 'a', 'completed', 1, 'c'),"
        " (:kept, NULL, :user, 'a', 'completed', 1, 'c')",
        "INSERT INTO history_stages (execution_id, session_id, stage_id, stage_index,"
        " stage_name, agent, status) VALUES (:gone, :gone, 's', 0, 's', 'a', 'completed')",
        "INSERT INTO history_llm_interactions (id, session_id, stage_execution_id,"
        " timestamp_us, step_description, provider, model_name, duration_ms, success)"
        " VALUES (:gone, :gone, :gone, 1, 's', 'p', 'm', 1, true)",
        "INSERT INTO history_tool_interactions (id, session_id, stage_execution_id,"
        " timestamp_us, step_description, server_name, tool_name, communication_type,"
        " duration_ms, success) VALUES (:gone, :gone, :gone, 1, 's', 'faultmaven', 't',"
        " 'tool_call', 1, true)",
    ]
    ids = {"user": user, "email": f"{suffix}@x.org", "name": f"n{suffix}"}
    ids |= {"case": case, "kept": kept, "gone": gone}
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), ids)
            connection.execute(text("DELETE FROM cases WHERE case_id = :case"), ids)
            connection.execute(text("DELETE FROM users WHERE user_id = :user"), ids)
            left = {
                table: connection.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {key} = :gone"),  # noqa: S608
                    ids,
                ).scalar()
                for table, key in (
                    ("history_sessions", "id"),
                    ("history_stages", "session_id"),
                    ("history_llm_interactions", "session_id"),
                    ("history_tool_interactions", "session_id"),
                )
            }
            owner = connection.execute(
                text("SELECT owner_id FROM history_sessions WHERE id = :kept"), ids
            ).one()
            connection.execute(text("DELETE FROM history_sessions WHERE id = :kept"), ids)
    finally:
        engine.dispose()
    assert left == dict.fromkeys(left, 0)
    assert owner == (None,)


def test_the_agent_memory_revision_goes_down_and_up(scratch_database: str) -> None:
    migrate.upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        before = _schema(engine)
        assert "agent_memories" in before
        migrate.downgrade(scratch_database, "0011")
        engine.dispose()
        assert set(before) - set(_schema(engine)) == {
            "agent_memories",
            "investigations",
            "evidence_requests",
            *ALERT_TABLES,
            *CLUSTER_TABLES,
        }
        migrate.upgrade(scratch_database)
        engine.dispose()
        assert _schema(engine) == before
    finally:
        engine.dispose()
