"""Rate-limit windows and reputation in Redis, one hash per subject.

Everything about a subject (its sliding windows, its score, its block) lives in one hash
and every step is one Lua script naming that one key, so a check is atomic and a single
round trip, and stays valid on ElastiCache Serverless (cluster mode refuses scripts over
keys of different hash slots). The limiter libraries on PyPI (`limits`, for one) keep a
key per window, which would take several scripts per request and leave the reputation
outside the atomic step.

The client is separate from the application's: its timeouts are short and it never
retries, because a limiter that waits seconds for a frozen Redis would slow every request
it protects; the service falls back to per-process counters instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from faultmaven.core.ports import CountersUnavailableError
from faultmaven.core.ratelimits import (
    LevelChange,
    Reputation,
    ReputationLevel,
    ReputationPolicy,
    Window,
    WindowAnswer,
)

# ARGV: now_ms, mode, reputation on, half-life ms, suspicious, restricted, blocked score,
# block ms, max block ms, points, key ttl s, cost, three scales, window count, then
# (name, size ms, limit) per window.
_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local mode = ARGV[2]
local rep_on = ARGV[3] == '1'
local half_life = tonumber(ARGV[4])
local t_susp = tonumber(ARGV[5])
local t_restr = tonumber(ARGV[6])
local t_block = tonumber(ARGV[7])
local block_ms = tonumber(ARGV[8])
local max_block_ms = tonumber(ARGV[9])
local points = tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
local cost = tonumber(ARGV[12])
local scales = {normal = tonumber(ARGV[13]), suspicious = tonumber(ARGV[14]),
                restricted = tonumber(ARGV[15])}
local n = tonumber(ARGV[16])

local raw = redis.call('HGETALL', key)
local h = {}
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
local function num(f) return tonumber(h[f] or '0') or 0 end

local score, blocked_until, blocks = 0, 0, 0
if rep_on then
  score = num('s')
  local at = num('st')
  if score > 0 and now > at then score = score * math.pow(0.5, (now - at) / half_life) end
  blocked_until = num('bu')
  blocks = num('bn')
end
local previous = h['lv'] or 'normal'

local function level_of()
  if blocked_until > now then return 'blocked' end
  if score >= t_restr then return 'restricted' end
  if score >= t_susp then return 'suspicious' end
  return 'normal'
end

local function add_points(p)
  if not rep_on or blocked_until > now then return end
  score = score + p
  if score >= t_block then
    local d = block_ms * math.pow(2, math.min(blocks, 20))
    if d > max_block_ms then d = max_block_ms end
    blocked_until = now + d
    blocks = blocks + 1
  end
end

local function save(fields)
  local level = level_of()
  if level == 'normal' then blocks = 0 end
  table.insert(fields, 'lv'); table.insert(fields, level)
  if rep_on then
    table.insert(fields, 's'); table.insert(fields, tostring(score))
    table.insert(fields, 'st'); table.insert(fields, tostring(now))
    table.insert(fields, 'bu'); table.insert(fields, tostring(blocked_until))
    table.insert(fields, 'bn'); table.insert(fields, tostring(blocks))
  end
  redis.call('HSET', key, unpack(fields))
  local keep = ttl
  local blocked_s = math.ceil((blocked_until - now) / 1000) + 60
  if blocked_s > keep then keep = blocked_s end
  redis.call('EXPIRE', key, keep)
  return level
end

if mode == 'read' then
  return {level_of(), tostring(score), math.max(0, blocked_until - now)}
end

if mode == 'penalize' then
  add_points(points)
  return {save({}), previous}
end

local level = level_of()
if level == 'blocked' then
  return {0, blocked_until - now, 0, 0, blocked_until - now, save({}), previous, 'blocked'}
end

local scale = scales[level] or 1
local allowed = true
local retry, best_limit, best_remaining, best_reset = 0, 0, -1, 0
local denied = ''
local fields = {}
for i = 0, n - 1 do
  local name = ARGV[17 + 3 * i]
  local size = tonumber(ARGV[18 + 3 * i])
  local limit = math.max(1, math.floor(tonumber(ARGV[19 + 3 * i]) * scale))
  local bucket = math.floor(now / size)
  local b = tonumber(h[name .. '.b'] or '-2')
  local c = tonumber(h[name .. '.c'] or '0')
  local cur, prev = 0, 0
  if b == bucket then
    cur = c
    prev = tonumber(h[name .. '.p'] or '0')
  elseif b == bucket - 1 then
    prev = c
  end
  local elapsed = now - bucket * size
  local estimate = prev * (1 - elapsed / size) + cur
  -- The epsilon absorbs float error: a client that waited exactly Retry-After gets in.
  if estimate + cost > limit + 1e-9 then
    allowed = false
    local wait
    if cur + cost > limit then
      wait = (bucket + 1) * size - now + size * (1 - (limit - cost) / cur)
    else
      wait = size * (1 - (limit - cost - cur) / prev) - elapsed
    end
    wait = math.max(1, math.ceil(wait))
    if wait > retry then retry = wait; denied = name end
  else
    for _, v in ipairs({name .. '.b', bucket, name .. '.c', cur + cost, name .. '.p', prev}) do
      table.insert(fields, v)
    end
    local remaining = math.floor(limit - estimate - cost)
    if best_remaining < 0 or remaining < best_remaining then
      best_remaining = remaining
      best_limit = limit
      best_reset = (bucket + 1) * size - now
    end
  end
end

if not allowed then
  add_points(points)
  level = save({})
  if level == 'blocked' then retry = math.max(retry, blocked_until - now) end
  return {0, retry, 0, 0, retry, level, previous, denied}
end
return {1, 0, best_limit, best_remaining, best_reset, save(fields), previous, ''}
"""

# Redis keeps a subject this long after its last request: past the hour window's
# previous bucket, so nothing a window still counts is dropped.
_MIN_KEY_TTL_SECONDS = 2 * 3600


def _level(value: Any) -> ReputationLevel:
    return ReputationLevel(str(value))


class RedisProtectionCounters:
    def __init__(self, client: redis.Redis, *, prefix: str = "protection:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, timeout_seconds: float) -> RedisProtectionCounters:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        return cls(client)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def key(self, subject: str) -> str:
        return self._prefix + subject

    def hit(
        self,
        subject: str,
        now_ms: int,
        windows: Sequence[Window],
        policy: ReputationPolicy,
        *,
        scales: Sequence[float],
        cost: int = 1,
    ) -> WindowAnswer:
        args: list[Any] = [*self._policy_args(now_ms, "hit", policy, policy.throttle_points)]
        args += [cost, *scales, len(windows)]
        for window in windows:
            args += [window.name, window.seconds * 1000, window.limit]
        result = self._run(subject, args)
        allowed, retry, limit, remaining, reset, level, previous, denied = result
        return WindowAnswer(
            allowed=bool(int(allowed)),
            level=_level(level),
            previous_level=_level(previous),
            retry_after_ms=int(retry),
            limit=int(limit),
            remaining=max(0, int(remaining)),
            reset_ms=int(reset),
            denied_window=str(denied) or None,
        )

    def penalize(
        self, subject: str, now_ms: int, points: float, policy: ReputationPolicy
    ) -> LevelChange:
        level, previous = self._run(
            subject, [*self._policy_args(now_ms, "penalize", policy, points), 1, 1, 1, 1, 0]
        )
        return LevelChange(level=_level(level), previous_level=_level(previous))

    def reputation(self, subject: str, now_ms: int, policy: ReputationPolicy) -> Reputation:
        level, score, blocked_for = self._run(
            subject, [*self._policy_args(now_ms, "read", policy, 0), 1, 1, 1, 1, 0]
        )
        return Reputation(level=_level(level), score=float(score), blocked_for_ms=int(blocked_for))

    def _policy_args(
        self, now_ms: int, mode: str, policy: ReputationPolicy, points: float
    ) -> list[Any]:
        return [
            now_ms,
            mode,
            "1" if policy.enabled else "0",
            policy.half_life_seconds * 1000,
            policy.suspicious_score,
            policy.restricted_score,
            policy.blocked_score,
            policy.block_ms(0),
            policy.max_block_seconds * 1000,
            points,
            max(_MIN_KEY_TTL_SECONDS, 8 * policy.half_life_seconds),
        ]

    def _run(self, subject: str, args: list[Any]) -> list[Any]:
        try:
            result: list[Any] = self._script(keys=[self.key(subject)], args=args)
        except (redis.RedisError, OSError) as exc:
            raise CountersUnavailableError(type(exc).__name__) from exc
        return result

    def reconnect(self) -> None:
        self._client.connection_pool.reset()

    def close(self) -> None:
        self._client.close()
