"""The `faultmaven` command: run the local API, migrate the database, bootstrap an admin."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from faultmaven.core.settings import Settings, SettingsError, load_settings
from faultmaven.retention.models import Schedule

if TYPE_CHECKING:
    from faultmaven.container import Container

app = typer.Typer(help="FaultMaven Serverless: local runtime and operations.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrator accounts.", no_args_is_help=True)
retention_app = typer.Typer(help="The retention jobs (EventBridge runs them on AWS).")
kb_app = typer.Typer(help="Knowledge bases.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(retention_app, name="retention")
app.add_typer(kb_app, name="kb")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@contextmanager
def _database_only(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL, starting the embedded PostgreSQL when none is set."""
    if settings.database_url is not None:
        yield settings
        return
    from faultmaven.local.runtime import start_postgres

    server, url = start_postgres(settings.state_dir)
    try:
        yield _settings(**{**settings.model_dump(exclude={"jwt_secret"}), "database_url": url})
    finally:
        server.cleanup()  # stops PostgreSQL unless another process still uses it


@app.command()
def dev(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the whole API locally on embedded PostgreSQL, Redis and a moto server."""
    import uvicorn

    from faultmaven.app import create_app
    from faultmaven.db.migrate import upgrade
    from faultmaven.local.runtime import port_is_free, start_embedded

    settings = _settings(host=host, port=port)
    for name, taken in (("port", settings.port), ("moto_port", settings.moto_port)):
        if settings.aws_endpoint_url is not None and name == "moto_port":
            continue
        if not port_is_free(settings.host, taken):
            typer.secho(
                f"{settings.host}:{taken} is in use; set FAULTMAVEN_{name.upper()} or stop the "
                "other process",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2)
    # uvicorn re-raises the signal that stopped it once it has shut down; SIGTERM's default
    # action would then kill the process before the embedded servers are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    settings, services = start_embedded(settings)
    application = None
    try:
        upgrade(settings.sqlalchemy_url)
        application = create_app(settings=settings)
        application.openapi()  # built once now (seconds on a busy laptop), not on a request
        if settings.seed_global_kb:
            # In the background: embedding the articles takes a while on a laptop's CPU
            # the first time (later starts find them unchanged), and the API is usable
            # meanwhile. Interrupted, it resumes on the next start.
            threading.Thread(
                target=_seed, args=(application.state.container,), name="kb-seed", daemon=True
            ).start()
        if settings.preprocessing_state_machine_arn is not None:
            resumed = application.state.container.evidence.resume_unfinished()
            if resumed:
                typer.echo(f"resumed preprocessing of {resumed} upload(s)", err=True)
        typer.echo(
            f"FaultMaven API on http://{settings.host}:{settings.port} "
            f"(docs: /docs) · state in {settings.state_dir.resolve()}",
            err=True,
        )
        uvicorn.run(application, **serve_options(settings))
    finally:
        if application is not None:
            application.state.container.close()
        services.stop()


@app.command()
def openapi(
    output: Annotated[
        str | None, typer.Option(help="file to write; standard output when omitted")
    ] = None,
) -> None:
    """Export the OpenAPI document of the whole API (the contract clients build against)."""
    import json
    from pathlib import Path

    from faultmaven.app import openapi_document

    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        Path(output).write_text(text)
        typer.echo(f"wrote {output}", err=True)


def serve_options(settings: Settings) -> dict[str, Any]:
    """How `faultmaven dev` runs uvicorn. Forwarded headers are believed only from the
    configured proxies: uvicorn's default trusts X-Forwarded-For from 127.0.0.1, so any
    local client (or a proxy-less setup) could pick its address and escape the login
    limits."""
    trusted = settings.trusted_proxies
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from faultmaven.db.migrate import upgrade

    with _database_only(_settings()) as settings:
        upgrade(settings.sqlalchemy_url, revision)
    typer.echo(f"database at {revision}")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="the administrator's email")],
    username: Annotated[str, typer.Option(help="the administrator's username")],
    display_name: Annotated[str | None, typer.Option(help="shown in the UI")] = None,
) -> None:
    """Create the first administrator, or promote the existing account with EMAIL.

    For a new account the password is read from FAULTMAVEN_ADMIN_PASSWORD, or asked for
    without echo, and must pass the same strength check as registration.
    """
    from pydantic import ValidationError

    from faultmaven.adapters.postgres import Database
    from faultmaven.auth.accounts import Accounts
    from faultmaven.auth.models import RegisterRequest
    from faultmaven.auth.passwords import Passwords
    from faultmaven.core.errors import AppError
    from faultmaven.db.migrate import upgrade

    with _database_only(_settings()) as settings:
        upgrade(settings.sqlalchemy_url)
        database = Database.from_settings(settings)
        accounts = Accounts(
            database,
            Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib),
        )
        try:
            user = accounts.promote_to_admin(email)
            if user is None:
                password = os.environ.get("FAULTMAVEN_ADMIN_PASSWORD") or typer.prompt(
                    "Password", hide_input=True, confirmation_prompt=True
                )
                request = RegisterRequest(
                    email=email, username=username, password=password, display_name=display_name
                )
                user = accounts.create_admin(request)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                typer.secho(f"{field}: {error['msg']}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except AppError as exc:
            typer.secho(f"{exc.error_code}: {exc.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        finally:
            database.dispose()
    typer.echo(f"administrator {user.username} ({user.user_id}) roles={','.join(user.roles)}")


@retention_app.command("run")
def retention_run(
    schedule: Annotated[
        Schedule, typer.Option(help="hourly: session indexes, finished jobs; daily: the rest")
    ] = Schedule.ALL,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would go, change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Run the retention jobs once, now (locally nothing fires EventBridge's schedules).

    Uses DATABASE_URL / REDIS_URL / FAULTMAVEN_AWS_ENDPOINT_URL when set and the embedded
    servers otherwise; while `faultmaven dev` runs, its moto server is used, so deleted
    artifacts also leave its on-disk mirror.
    """
    with _container() as container:
        report = container.retention.run(schedule, dry_run=dry_run)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(
        f"retention {schedule.value} at {report.now.isoformat(timespec='seconds')}"
        + (" — dry run: nothing changed, counts are what a real run would do" if dry_run else "")
    )
    header = f"{'job':<16} {'cutoff':<20} {'examined':>9} {'deleted':>8} {'archived':>8}  notes"
    typer.echo(header)
    for job in report.jobs:
        cutoff = job.cutoff.strftime("%Y-%m-%d %H:%M") if job.cutoff else "-"
        notes = ", ".join(f"{k}={v}" for k, v in job.details.items())
        if not job.complete:
            notes = ", ".join(filter(None, [notes, "incomplete"]))
        typer.echo(
            f"{job.job.value:<16} {cutoff:<20} {job.examined:>9} {job.deleted:>8} "
            f"{job.archived:>8}  {notes}"
        )


def _seed(container: Container) -> None:
    from faultmaven.knowledge.seed import load_articles

    typer.echo("loading the global knowledge base in the background…", err=True)
    try:
        counts = container.knowledge.seed_global(load_articles(), owner_id=None)
    except Exception as exc:  # the API keeps serving; `faultmaven kb seed` retries
        typer.secho(f"global KB not loaded: {exc!r}", fg=typer.colors.YELLOW, err=True)
        return
    typer.echo("global KB: " + ", ".join(f"{n} {state}" for state, n in counts.items()), err=True)


@contextmanager
def _container() -> Iterator[Container]:
    """A container on the configured stores, or on embedded ones (joining a running
    `faultmaven dev`'s servers when there is one)."""
    from faultmaven.container import build_container
    from faultmaven.db.migrate import upgrade
    from faultmaven.local.runtime import (
        port_is_free,
        settings_values,
        start_embedded,
        use_moto_credentials,
    )

    settings = _settings()
    embedded_database = settings.database_url is None
    if settings.aws_endpoint_url is None and not port_is_free(settings.host, settings.moto_port):
        # Most likely `faultmaven dev`: its moto server holds the bucket and its mirror.
        values = settings_values(settings)
        values["aws_endpoint_url"] = f"http://{settings.host}:{settings.moto_port}"
        settings = _settings(**values)
        use_moto_credentials()
    settings, services = start_embedded(settings)
    try:
        if embedded_database:
            upgrade(settings.sqlalchemy_url)
        container = build_container(settings)
        try:
            yield container
        finally:
            container.close()
    finally:
        services.stop()


@kb_app.command("seed")
def kb_seed(
    path: Annotated[
        Path | None, typer.Option(help="a directory with index.json and <slug>.md files")
    ] = None,
) -> None:
    """Load or refresh the global knowledge base (unchanged articles are skipped)."""
    from faultmaven.knowledge.seed import GLOBAL_KB, load_articles

    articles = load_articles(path or GLOBAL_KB)
    with _container() as container:
        counts = container.knowledge.seed_global(articles, owner_id=None)
    typer.echo(", ".join(f"{n} {state}" for state, n in counts.items()))


@kb_app.command("reindex")
def kb_reindex() -> None:
    """Rebuild every KB document's chunks and vectors from PostgreSQL, e.g. after the
    vector store lost data (evidence is re-indexed by reprocessing)."""
    with _container() as container:
        total = container.knowledge.reindex()
    typer.echo(f"re-indexed {total} chunks")


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
