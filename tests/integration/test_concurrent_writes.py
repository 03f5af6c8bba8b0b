"""Writes that race on one case: each one lands, and a transaction PostgreSQL rolls back to
resolve a race is answered as a retryable conflict, not as an outage."""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from faultmaven.container import Container
from faultmaven.core.errors import unexpected_error_response
from tests.helpers import Api

WRITERS = 6


def test_messages_posted_at_once_to_one_case_all_land(app: Any, api: Api) -> None:
    owner = api.user("racer")
    case_id = api.case(owner)["case_id"]
    statuses: list[int] = []
    start = threading.Barrier(WRITERS)

    def write(number: int) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            start.wait()
            response = Api(client).call(
                "POST",
                f"/cases/{case_id}/messages",
                owner,
                json={"type": "user_query", "content": f"note {number}"},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * WRITERS
    listed = api.call("GET", f"/cases/{case_id}/messages?limit=50", owner).json()
    assert sorted(m["content"] for m in listed["items"]) == sorted(
        f"note {n}" for n in range(WRITERS)
    )


def test_a_deadlock_rolled_back_by_postgres_is_a_retryable_409(
    container: Container, api: Api
) -> None:
    owner = api.user("locker")
    first, second = api.case(owner)["case_id"], api.case(owner)["case_id"]
    engine = container.database.engine
    both_hold_one = threading.Barrier(2)
    failures: list[BaseException] = []

    def cross(mine: str, theirs: str) -> None:
        update = text("UPDATE cases SET title = title WHERE case_id = :id")
        try:
            with engine.begin() as connection:
                connection.execute(update, {"id": mine})
                both_hold_one.wait()
                connection.execute(update, {"id": theirs})
        except Exception as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=cross, args=(first, second)),
        threading.Thread(target=cross, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(failures) == 1, failures
    response = unexpected_error_response(failures[0])  # type: ignore[arg-type]
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    body = json.loads(bytes(response.body))
    assert body["error_code"] == "CONCURRENT_UPDATE"
    assert body["details"]["reason"] == "concurrent update"
