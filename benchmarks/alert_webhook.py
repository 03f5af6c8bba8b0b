"""Alertmanager's webhook to an open case with its investigation started (issue 16 §5).

Against the in-process app on embedded stores and moto (the evidence pipeline and the
investigation state machine really start), `--alerts` distinct firing alerts are
delivered one webhook each, then each again (the repeat Alertmanager sends every
`repeat_interval`). Printed: per delivery, the webhook's wall time to its reply — the
case open, the alert stored as evidence, the investigation's execution started — p50 and
p95, and the same for repeats (an occurrence on the open case). Figures only.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from _agent_stack import agent_stack
from _support import header, percentile

from faultmaven.auth.models import RegisterRequest
from tests.helpers import STRONG_PASSWORD


def firing(name: str) -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "faultmaven",
        "groupLabels": {"alertname": name},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "severity": "critical", "cluster": "prod"},
                "annotations": {"summary": f"{name} on checkout"},
                "startsAt": datetime.now(UTC).isoformat(),
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": uuid.uuid4().hex[:16],
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=30)
    args = parser.parse_args()
    with agent_stack() as stack, stack.api() as (api, container):
        container.auth.accounts.create_admin(
            RegisterRequest(email="root@example.com", username="root", password=STRONG_PASSWORD)
        )
        admin = api.login("root")
        owner = api.user("oncall")
        created = api.call(
            "POST",
            "/alerts/integrations",
            admin,
            json={"name": "bench", "owner_id": owner.user_id},
        ).json()
        headers = {"Authorization": f"Bearer {created['secret']}"}
        bodies = [firing(f"Alert{n}") for n in range(args.alerts)]
        opened: list[float] = []
        repeated: list[float] = []
        started = 0
        for times, expect_new in ((opened, True), (repeated, False)):
            for body in bodies:
                began = time.perf_counter()
                reply = api.client.request(
                    "POST", "/api/v1/alerts/alertmanager", headers=headers, json=body
                )
                times.append((time.perf_counter() - began) * 1000)
                receipt = reply.json()
                assert reply.status_code == 200, reply.text
                if expect_new:
                    started += receipt["investigations_started"]
        header("Alertmanager webhook (in-process app, embedded stores, moto)")
        for label, values in (("new alert → case + investigation", opened), ("repeat", repeated)):
            ordered = sorted(values)
            print(
                f"{label:36s} n={len(ordered):3d}  p50 {percentile(ordered, 0.5):7.1f} ms"
                f"  p95 {percentile(ordered, 0.95):7.1f} ms"
            )
        print(f"investigations started: {started} of {len(bodies)}")


if __name__ == "__main__":
    main()
