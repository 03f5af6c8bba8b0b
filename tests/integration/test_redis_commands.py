"""Every Redis command the app sends names a single key: ElastiCache Serverless runs in
cluster mode and refuses multi-key commands across hash slots (CROSSSLOT), which the
embedded Redis would never show. Redis' own slow log, set to record every command, is
the witness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faultmaven.container import Container
from faultmaven.retention.models import Schedule
from tests.helpers import Api

# Commands that take several keys when given several arguments.
MULTI_KEY = {"MGET", "MSET", "MSETNX", "DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH"}


def commands_sent(container: Container, action: Callable[[], None]) -> list[list[str]]:
    client: Any = container.kv.client
    saved = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 100_000)
    client.slowlog_reset()
    try:
        action()
        # Raw entries keep each argument apart (redis-py's slowlog_get joins them):
        # [id, time, duration, [argument, ...], client address, client name].
        entries = client.execute_command("SLOWLOG", "GET", 100_000)
    finally:
        for name, value in saved.items():
            client.config_set(name, value)
    return [[str(argument) for argument in entry[3]] for entry in entries]


def test_sessions_tokens_throttling_and_retention_use_one_key_per_command(
    api: Api, container: Container
) -> None:
    def traffic() -> None:
        user = api.user()
        api.call("POST", "/auth/login", json={"username": user.username, "password": "nope"})
        first = api.call("POST", "/sessions", user, json={"client_id": "laptop"}).json()
        api.call("POST", "/sessions", user, json={"client_id": "laptop"})
        api.call("POST", "/sessions", user)
        assert api.call("GET", "/sessions", user).status_code == 200
        api.call("POST", f"/sessions/{first['session_id']}/heartbeat", user)
        api.call("DELETE", f"/sessions/{first['session_id']}", user)
        assert api.call("GET", "/auth/me", user).status_code == 200
        api.call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
        api.call("POST", "/auth/logout", user)
        container.retention.run(Schedule.HOURLY)

    commands = commands_sent(container, traffic)
    names = {command[0].upper() for command in commands}
    assert {"GET", "SET", "SADD", "SMEMBERS"} & names  # the log really saw the traffic
    for command in commands:
        name = command[0].upper()
        if name in MULTI_KEY:
            assert len(command) == 2, command
        if name in {"EVAL", "EVALSHA"}:
            assert int(command[2]) <= 1, command
