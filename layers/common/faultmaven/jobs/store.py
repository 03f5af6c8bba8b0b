"""Jobs in Redis under `job:{id}` with a 24-hour TTL: progress may vanish, results do not
(they are in PostgreSQL)."""

from __future__ import annotations

from faultmaven.core.ports import KeyValueStore
from faultmaven.jobs.models import Job

_PREFIX = "job:"
# What a job carries beside its progress (the request it runs, its result), kept as long
# as the job; outside `job:*` so a walk over jobs never meets one.
_DATA_PREFIX = "jobdata:"
DATA_NAMES = ("request", "result", "claim")


def job_key(job_id: str) -> str:
    return f"{_PREFIX}{job_id}"


class JobStore:
    def __init__(self, kv: KeyValueStore, ttl_seconds: int) -> None:
        self._kv = kv
        self._ttl = ttl_seconds

    def get(self, job_id: str) -> Job | None:
        raw = self._kv.get(job_key(job_id))
        return None if raw is None else Job.model_validate_json(raw)

    def save(self, job: Job) -> None:
        self._kv.put(job_key(job.job_id), job.model_dump_json(), self._ttl)

    def delete(self, job_id: str) -> None:
        self._kv.delete(job_key(job_id), *(f"{_DATA_PREFIX}{job_id}:{name}" for name in DATA_NAMES))

    def put_data(self, job_id: str, name: str, value: str) -> None:
        if name not in DATA_NAMES:
            raise ValueError(f"unknown job document {name!r}")
        self._kv.put(f"{_DATA_PREFIX}{job_id}:{name}", value, self._ttl)

    def claim(self, job_id: str) -> bool:
        """True for the first caller only, for as long as the job lives."""
        return self._kv.put(f"{_DATA_PREFIX}{job_id}:claim", "1", self._ttl, only_if_absent=True)

    def get_data(self, job_id: str, name: str) -> str | None:
        return self._kv.get(f"{_DATA_PREFIX}{job_id}:{name}")

    def scan(self, cursor: int, count: int) -> tuple[int, list[str]]:
        """One step of a walk over every job: ids and the cursor to continue from (0 when
        done)."""
        cursor, keys = self._kv.scan(f"{_PREFIX}*", cursor=cursor, count=count)
        return cursor, [key.removeprefix(_PREFIX) for key in keys]

    def get_many(self, job_ids: list[str]) -> list[Job | None]:
        raws = self._kv.get_many([job_key(j) for j in job_ids])
        return [None if raw is None else Job.model_validate_json(raw) for raw in raws]
