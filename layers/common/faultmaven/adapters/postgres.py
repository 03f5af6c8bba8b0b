"""PostgreSQL through SQLAlchemy 2 and psycopg 3 (Aurora via RDS Proxy on AWS, pgserver
locally). The engine and its pool are built once per process and reused across warm
Lambda invocations.

SQLAlchemy and psycopg cost ~250 ms of import, so they are imported when the database is
first used: a function that never touches PostgreSQL (sessions live in Redis) never pays.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from faultmaven.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


class Database:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        settings.sqlalchemy_url  # noqa: B018 - fail at start, not at first query, without a URL
        return cls(settings)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine, self._sessions = self._connect()
        return self._engine

    def _connect(self) -> tuple[Engine, sessionmaker[Session]]:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        settings = self._settings
        engine = create_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_pre_ping=True,
            pool_recycle=1800,
            # Statement errors would otherwise carry their parameters (document text,
            # vectors) into exception messages and so into the logs.
            hide_parameters=True,
        )
        if settings.database_iam_auth:
            _sign_each_connection(engine, settings)
        _trace_statements(engine)
        return engine, sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block succeeds, rolled back otherwise."""
        self.engine  # noqa: B018 - builds the engine and session factory on first use
        assert self._sessions is not None
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        """Drop pooled connections (after a SnapStart restore or a fork)."""
        if self._engine is not None:
            self._engine.dispose()


def _sign_each_connection(engine: Engine, settings: Settings) -> None:
    """RDS IAM authentication: the password of every new connection is a token signed
    with the function's role (valid 15 minutes, so it is made per connection, never
    cached). Signing is local; no AWS call happens here."""
    from sqlalchemy import event

    from faultmaven.adapters.aws import client

    url = engine.url
    host, port, user = url.host, url.port or 5432, url.username

    @event.listens_for(engine, "do_connect")
    def _provide_token(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = client("rds", settings).generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=settings.aws_region
        )
        # IAM authentication is refused without TLS.
        cparams.setdefault("sslmode", "require")


_TRACES = "faultmaven.xray_subsegments"
_MAX_TRACED_SQL = 2000


def _trace_statements(engine: Engine) -> None:
    """One X-Ray subsegment per statement sent, through SQLAlchemy's engine events (this
    engine only, nothing monkeypatched, nothing registered when tracing is off). The SQL
    recorded is the statement text, whose parameters are placeholders: values (document
    text, vectors, e-mail addresses) never reach X-Ray."""
    from faultmaven.core.observability import tracer

    active = tracer()
    if active is None:
        return
    from contextlib import ExitStack

    from sqlalchemy import event

    provider = active.provider
    url = engine.url
    name = f"{url.database or 'postgres'}@{url.host or 'localhost'}"
    sql = {
        "url": url.set(password=None).render_as_string(hide_password=False),
        "user": url.username,
        "database_type": engine.dialect.name,
        "driver_version": engine.driver,
    }

    @event.listens_for(engine, "before_cursor_execute")
    def _begin(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        stack = ExitStack()
        entity: Any = stack.enter_context(provider.in_subsegment(name=name, namespace="remote"))
        if entity is not None:
            entity.set_sql({**sql, "sanitized_query": statement[:_MAX_TRACED_SQL]})
        conn.info.setdefault(_TRACES, []).append(stack)

    @event.listens_for(engine, "after_cursor_execute")
    def _end(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        open_subsegments = conn.info.get(_TRACES)
        if open_subsegments:
            open_subsegments.pop().close()

    @event.listens_for(engine, "handle_error")
    def _fail(exception_context: Any) -> None:
        conn = exception_context.connection
        open_subsegments = conn.info.get(_TRACES) if conn is not None else None
        if open_subsegments:
            error = exception_context.original_exception
            open_subsegments.pop().__exit__(type(error), error, error.__traceback__)
