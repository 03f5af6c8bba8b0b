"""No piece of a secret reaches anything the pipeline stores or serves.

Generated secrets of every detector's kind (tests/secret_strategies.py) are planted at
random positions of random log lines; each log is uploaded as a client does and runs the
real flow (presigned POST → S3 notification → Step Functions → every step's handler).
Afterwards no 8-character piece of any secret may appear in PostgreSQL (every row of
every table: evidence, chunks, the case-memory vectors, jobs, audit), in Redis, in any S3
object but the raw artifact itself, or in the API's answers (the evidence, the case's
evidence list, the job). A bounded number of examples keeps it under a minute; the
unit-level test in tests/unit/test_redaction_first.py runs many more through extract().
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from faultmaven.adapters.aws import client
from faultmaven.container import Container
from faultmaven.db.tables import Base, Evidence
from tests.helpers import Api, User
from tests.integration.evidence_helpers import upload
from tests.secret_strategies import KIND_STRATEGIES, Planted, leaked_pieces, log_with_secrets

ALL_KINDS = tuple(sorted(KIND_STRATEGIES))
# File names that steer the classifier to logs and to the generic extractor alike.
FILES = st.sampled_from(
    [("api.log", "text/plain"), ("notes.txt", "text/plain"), ("dump.json", "application/json")]
)


def database_text(container: Container) -> str:
    """Every stored value as text, except embedding vectors: they are numbers, not text,
    and their printed floats (0.05000006…) would match the pieces of a generated
    near-constant secret by chance."""
    from pgvector.sqlalchemy import Vector

    with container.database.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(
                select(*[c for c in table.columns if not isinstance(c.type, Vector)])
            )
        )


def redis_text(container: Container) -> str:
    redis = container.kv.client
    values: list[str] = []
    for key in redis.scan_iter(count=1000):
        kind = redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            values.append(repr(redis.get(key)))
        elif kind == "hash":
            values.append(repr(redis.hgetall(key)))
        elif kind == "list":
            values.append(repr(redis.lrange(key, 0, -1)))
        elif kind in ("set", "zset"):
            values.append(repr(redis.zrange(key, 0, -1) if kind == "zset" else redis.smembers(key)))
        values.append(repr(key))
    return "\n".join(values)


def s3_text(container: Container, raw_keys: set[str]) -> str:
    s3 = client("s3", container.settings)
    bucket = container.settings.evidence_bucket
    bodies: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"] in raw_keys:
                continue  # the artifact itself, as uploaded: the user's own file
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            bodies.append(item["Key"] + "\n" + body.decode("utf-8", "replace"))
    return "\n".join(bodies)


def api_text(api: Api, user: User, case_id: str, evidence: dict[str, Any]) -> str:
    listing = api.call("GET", f"/cases/{case_id}/evidence", user)
    job = api.call("GET", f"/jobs/{evidence['job_id']}", user, follow_redirects=False)
    return "\n".join([json.dumps(evidence), listing.text, job.text])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(
    max_examples=5,
    deadline=None,
    # Each example is a whole pipeline run: report a failure as found, unshrunk.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.data_too_large,
    ],
)
@given(
    log=log_with_secrets(ALL_KINDS, filler=20),
    file=FILES,
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32-be"]),
)
def test_no_piece_of_a_secret_is_stored_indexed_or_served(
    api: Api,
    container: Container,
    log: tuple[str, list[Planted]],
    file: tuple[str, str],
    encoding: str,
) -> None:
    owner = api.user()
    case_id = str(api.case(owner)["case_id"])
    body, planted = log
    filename, content_type = file
    evidence = upload(
        api, owner, case_id, filename, body.encode(encoding), content_type=content_type
    )
    assert evidence["status"] == "completed", evidence
    assert evidence["secrets_detected"] is True
    assert evidence["pii_detected"] is True
    haystack = "\n".join(
        [
            api_text(api, owner, case_id, evidence),
            database_text(container),
            redis_text(container),
            s3_text(container, _raw_keys(container)),
        ]
    )
    secrets = [secret for item in planted for secret in item.secrets]
    assert leaked_pieces(secrets, haystack) == [], [p.kind for p in planted]


def _raw_keys(container: Container) -> set[str]:
    """The raw artifacts of earlier examples (the table is not emptied between them)."""
    with container.database.engine.connect() as connection:
        rows = connection.execute(select(Evidence.s3_key)).all()
    return {row[0] for row in rows}
