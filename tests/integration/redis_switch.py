"""A TCP front for the test Redis that a test can cut, freeze and restore, so the real
redis-server the suite shares stays up while the app under test sees it go away."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from enum import StrEnum
from urllib.parse import urlsplit


class Mode(StrEnum):
    UP = "up"
    DOWN = "down"  # connections refused
    FROZEN = "frozen"  # connections accepted, nothing ever answered


class RedisSwitch:
    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self._target: tuple[int, str | tuple[str, int]]
        if parts.scheme == "unix":
            self._target = (socket.AF_UNIX, parts.path)
        else:
            self._target = (socket.AF_INET, (parts.hostname or "127.0.0.1", parts.port or 6379))
        self.mode = Mode.UP
        self._listener: socket.socket | None = None
        self._port = 0
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listen()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._port}/0"

    def set(self, mode: Mode) -> None:
        self.mode = mode
        self._drop_connections()
        if mode is Mode.DOWN:
            self._close_listener()
        elif self._listener is None:
            self._listen()

    def close(self) -> None:
        self._close_listener()
        self._drop_connections()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))
        listener.listen(64)
        self._port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(client)
            if self.mode is Mode.UP:
                threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        family, address = self._target
        upstream = socket.socket(family, socket.SOCK_STREAM)
        try:
            upstream.connect(address)
        except OSError:
            client.close()
            return
        with self._lock:
            self._connections.append(upstream)
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        with contextlib.suppress(OSError, ValueError), selector:
            while True:
                for key, _ in selector.select():
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@contextlib.contextmanager
def redis_switch(redis_url: str) -> Iterator[RedisSwitch]:
    switch = RedisSwitch(redis_url)
    try:
        yield switch
    finally:
        switch.close()
