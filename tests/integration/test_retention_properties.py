"""Property: retention never removes anything unexpired. Hypothesis draws cases in every
status with timestamps just before, at and just after each cutoff (and far on either
side), runs the daily jobs (first dry, which must change nothing), and checks that the
survivors are exactly the unexpired ones. Small batch sizes exercise the keyset walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from faultmaven.container import Container
from faultmaven.core.clock import utcnow
from faultmaven.retention.models import Schedule
from tests.helpers import Api
from tests.integration.test_retention import (
    PATHS,
    column,
    execute,
    in_batches_of,
    move,
    pending_evidence,
    set_case_times,
    statuses,
)

DELTAS = [
    timedelta(days=-3),
    timedelta(seconds=-1),
    timedelta(microseconds=-1),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(days=3),
]
RESOLVED = {"resolved", "validated", "documenting"}
CLOSED = RESOLVED | {"archived_after_resolving", "archived"}


@dataclass(frozen=True)
class CaseSpec:
    path: str
    status_moved: timedelta  # relative to the archive cutoff
    closed: timedelta  # relative to the working-memory cutoff
    chunks: tuple[timedelta, ...]  # relative to the working-memory cutoff
    evidence: timedelta  # relative to the artifact cutoff
    audit: timedelta  # relative to the audit cutoff


delta = st.sampled_from(DELTAS)
case_specs = st.builds(
    CaseSpec,
    path=st.sampled_from(sorted(PATHS)),
    status_moved=delta,
    closed=delta,
    chunks=st.lists(delta, min_size=1, max_size=2).map(tuple),
    evidence=delta,
    audit=delta,
)


def expired(offset: timedelta) -> bool:
    """At the cutoff counts as past it: the period is a minimum age."""
    return offset <= timedelta(0)


def test_nothing_unexpired_is_ever_deleted(api: Api, container: Container) -> None:
    owner = api.user()  # once: the examples below share the test's fixtures on purpose
    base = container.retention.policy

    @settings(max_examples=20, deadline=None)
    @given(
        specs=st.lists(case_specs, min_size=1, max_size=4), batch_size=st.sampled_from([1, 2, 500])
    )
    def check(specs: list[CaseSpec], batch_size: int) -> None:
        now = utcnow()
        archive_cutoff = now - base.case_archive_after
        memory_cutoff = now - base.case_memory_after
        artifact_cutoff = now - base.artifacts_after
        audit_cutoff = now - base.audit_after

        made: list[tuple[CaseSpec, str, str, list[str], str]] = []
        for spec in specs:
            case_id = api.case(owner)["case_id"]
            evidence_id = pending_evidence(api, owner, case_id)
            container.evidence.replace_chunks(evidence_id, [f"c{i}" for i in spec.chunks])
            chunk_ids = column(
                container,
                "SELECT chunk_id FROM evidence_chunks WHERE evidence_id = :e ORDER BY ordinal",
                e=evidence_id,
            )
            for chunk_id, offset in zip(chunk_ids, spec.chunks, strict=True):
                _set(container, "evidence_chunks", "chunk_id", chunk_id, memory_cutoff + offset)
            _set(container, "evidence", "evidence_id", evidence_id, artifact_cutoff + spec.evidence)
            created_event = column(
                container,
                "SELECT event_id FROM audit_events WHERE object_id = :c AND action = :a",
                c=case_id,
                a="case.created",
            )[0]
            _set(container, "audit_events", "event_id", created_event, audit_cutoff + spec.audit)
            move(api, owner, case_id, *PATHS[spec.path])
            closed_at = memory_cutoff + spec.closed
            times: dict[str, datetime | None] = {
                "status_changed_at": archive_cutoff + spec.status_moved
            }
            if spec.path in RESOLVED or spec.path == "archived_after_resolving":
                times["resolved_at"] = closed_at
            if spec.path == "archived":
                times["closed_at"] = closed_at
            set_case_times(container, case_id, **times)
            made.append((spec, case_id, evidence_id, chunk_ids, created_event))

        def survivors() -> tuple[dict[str, str], set[str], set[str], set[str]]:
            case_ids = [m[1] for m in made]
            return (
                statuses(container, case_ids),
                set(
                    column(
                        container,
                        "SELECT evidence_id FROM evidence WHERE evidence_id = ANY(:ids)",
                        ids=[m[2] for m in made],
                    )
                ),
                set(
                    column(
                        container,
                        "SELECT chunk_id FROM evidence_chunks WHERE chunk_id = ANY(:ids)",
                        ids=[c for m in made for c in m[3]],
                    )
                ),
                set(
                    column(
                        container,
                        "SELECT event_id FROM audit_events WHERE event_id = ANY(:ids)",
                        ids=[m[4] for m in made],
                    )
                ),
            )

        service = in_batches_of(container, batch_size)
        before = survivors()
        service.run(Schedule.DAILY, now=now, dry_run=True)
        assert survivors() == before
        service.run(Schedule.DAILY, now=now)

        expected_status: dict[str, str] = {}
        expected_evidence: set[str] = set()
        expected_chunks: set[str] = set()
        expected_events: set[str] = set()
        for spec, case_id, evidence_id, chunk_ids, event_id in made:
            final = spec.path.removesuffix("_after_resolving")
            if spec.path in RESOLVED and expired(spec.status_moved):
                final = "archived"
            expected_status[case_id] = final
            # An open investigation keeps its evidence however old; a closed one keeps
            # it until the artifact period has passed.
            if not expired(spec.evidence) or spec.path not in CLOSED:
                expected_evidence.add(evidence_id)
                memory_gone = spec.path in CLOSED and expired(spec.closed)
                expected_chunks.update(
                    chunk_id
                    for chunk_id, offset in zip(chunk_ids, spec.chunks, strict=True)
                    if not (memory_gone and expired(offset))
                )
            if not expired(spec.audit):
                expected_events.add(event_id)
        assert survivors() == (
            expected_status,
            expected_evidence,
            expected_chunks,
            expected_events,
        )

    check()


def _set(container: Container, table: str, key: str, value: str, when: datetime) -> None:
    execute(
        container,
        f"UPDATE {table} SET created_at = :t WHERE {key} = :v",  # noqa: S608 - names are ours
        t=when,
        v=value,
    )
