"""A client's whole journey against `faultmaven dev`, including a restart that must keep
users, cases and sessions."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Runtime
from tests.helpers import STRONG_PASSWORD, Api, assert_envelope

pytestmark = pytest.mark.e2e


class HttpxClient:
    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=10)

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        return self._client.request(method, url, **kwargs)  # type: ignore[arg-type]


def test_docs_and_health(runtime: Runtime) -> None:
    health = httpx.get(f"{runtime.base_url}/health", timeout=30).json()
    assert health["checks"] == {"database": "ok", "redis": "ok"}
    spec = httpx.get(f"{runtime.base_url}/openapi.json", timeout=30).json()
    assert "/api/v1/cases/{case_id}/participants" in spec["paths"]
    assert httpx.get(f"{runtime.base_url}/docs", timeout=30).status_code == 200


def test_register_login_session_case_share_and_restart(runtime: Runtime) -> None:
    api = Api(HttpxClient(runtime.base_url))
    alice, bob, mallory = api.user("alice"), api.user("bob"), api.user("mallory")

    session = api.call("POST", "/sessions", alice, json={"client_id": "chrome-ext"})
    assert session.status_code == 201
    case = api.case(alice, title="Orders API 502s", priority="critical")
    case_id = case["case_id"]
    api.call(
        "POST",
        f"/cases/{case_id}/messages",
        alice,
        json={"content": "502s from the LB since 14:05"},
    )
    api.share(alice, case_id, bob, "viewer")

    assert api.call("GET", f"/cases/{case_id}", bob).json()["my_role"] == "viewer"
    assert api.call("GET", f"/cases/{case_id}/messages", bob).json()["total"] == 1
    assert_envelope(api.call("PATCH", f"/cases/{case_id}", bob, json={"title": "mine"}), 403)
    assert_envelope(api.call("POST", f"/cases/{case_id}/messages", bob, json={"content": "x"}), 403)
    stranger = assert_envelope(api.call("GET", f"/cases/{case_id}", mallory), 404, "CASE_NOT_FOUND")
    assert "Orders" not in str(stranger)
    assert_envelope(api.call("GET", f"/sessions/{session.json()['session_id']}", mallory), 404)

    runtime.stop()
    runtime.start()

    # Users, cases, sessions and the signing key all survive the restart.
    assert api.call("GET", "/auth/me", alice).status_code == 200
    again = api.login("alice")
    assert api.call("GET", f"/cases/{case_id}", again).json()["title"] == "Orders API 502s"
    resumed = api.call("POST", "/sessions", again, json={"client_id": "chrome-ext"})
    assert resumed.status_code == 200
    assert resumed.json()["session_id"] == session.json()["session_id"]
    assert api.call("GET", f"/cases/{case_id}", bob).json()["my_role"] == "viewer"


def test_cli_bootstraps_an_admin_who_sees_every_case(runtime: Runtime) -> None:
    api = Api(HttpxClient(runtime.base_url))
    owner = api.user("carol")
    case_id = api.case(owner)["case_id"]
    weak = runtime.cli(
        "admin",
        "create",
        "--email",
        "root@example.com",
        "--username",
        "root",
        FAULTMAVEN_ADMIN_PASSWORD="password",
    )
    assert weak.returncode != 0
    assert "WEAK_PASSWORD" in weak.stderr
    created = runtime.cli(
        "admin",
        "create",
        "--email",
        "root@example.com",
        "--username",
        "root",
        FAULTMAVEN_ADMIN_PASSWORD=STRONG_PASSWORD,
    )
    assert created.returncode == 0, created.stderr
    assert "roles=user,admin" in created.stdout
    admin = api.login("root")
    assert api.call("GET", f"/cases/{case_id}", admin).json()["my_role"] == "owner"
    # Promoting an existing account asks for no password (none is set here, stdin is closed).
    promoted = runtime.cli("admin", "create", "--email", "carol@example.com", "--username", "carol")
    assert promoted.returncode == 0, promoted.stderr
    assert "roles=admin,user" in promoted.stdout
    upgraded = runtime.cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr


def test_a_bad_setting_stops_the_runtime_with_its_name(runtime: Runtime) -> None:
    result = runtime.cli("dev", FAULTMAVEN_SESSION_TTL_MINUTES="5")
    assert result.returncode == 2
    assert "FAULTMAVEN_SESSION_TTL_MINUTES" in result.stderr


def test_evidence_upload_is_processed_and_survives_a_restart(runtime: Runtime) -> None:
    from tests.integration.evidence_helpers import upload

    api = Api(HttpxClient(runtime.base_url))
    owner = api.user("dora")
    case_id = api.case(owner)["case_id"]
    log = b"2026-11-22T10:00:00Z ERROR upstream timed out after 30s\n" * 50
    evidence = upload(api, owner, case_id, "edge.log", log)
    assert evidence["status"] == "completed", evidence
    assert evidence["data_type"] == "logs_and_errors"
    # No key: the offline analyst summarized, and the run is a history session.
    assert evidence["summary_origin"]["source"] == "offline"
    sessions = api.call("GET", f"/history/sessions?case_id={case_id}", owner).json()
    assert [s["agent_type"] for s in sessions["sessions"]] == ["preprocessing"]

    runtime.stop()
    runtime.start()

    again = api.login("dora")
    kept = api.call("GET", f"/evidence/{evidence['evidence_id']}", again).json()
    assert kept["summary"] == evidence["summary"]
    link = api.call("GET", f"/evidence/{evidence['evidence_id']}/download", again)
    assert link.status_code == 200, link.text
    assert httpx.get(link.json()["url"]).content == log


def test_retention_runs_beside_a_running_dev_server(runtime: Runtime) -> None:
    """`faultmaven retention run` while `faultmaven dev` holds the embedded servers: it
    joins them (moto included) instead of failing or starting a second copy."""
    result = runtime.cli("retention", "run", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert report["dry_run"] is True
    assert [job["job"] for job in report["jobs"]] == [
        "session_indexes",
        "finished_jobs",
        "resolved_cases",
        "case_memory",
        "artifacts",
        "audit_events",
        "history_sessions",
        "protection_events",
    ]
    assert all(job["complete"] for job in report["jobs"])
    health = httpx.get(f"{runtime.base_url}/health", timeout=10)
    assert health.status_code == 200, health.text  # the dev server is unharmed


def test_the_runtime_keeps_its_secrets_from_other_local_users(runtime: Runtime) -> None:
    """The signing key sits in a 0600 file, not in moto; and moto answers only processes
    of the user running the runtime. `nobody` gets 403 for every AWS API, so it can read
    neither a secret nor the raw artifacts."""
    import pwd
    import stat

    state = Path(runtime.env["FAULTMAVEN_STATE_DIR"])
    key_file = state / "jwt_secret"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    mode = stat.S_IMODE(state.stat().st_mode)
    assert mode & 0o007 == 0  # no other account may enter or list it
    if mode & 0o070:  # as root: only pgserver's system user may traverse into it
        assert mode & 0o070 == 0o010
        assert state.stat().st_gid == pwd.getpwnam("pgserver").pw_gid
    moto = f"http://127.0.0.1:{runtime.env['FAULTMAVEN_MOTO_PORT']}"
    probe = (
        "import sys, urllib.request, urllib.error\n"
        "codes = []\n"
        "for request in (\n"
        "    urllib.request.Request(sys.argv[1] + '/faultmaven-evidence?list-type=2'),\n"
        "    urllib.request.Request(sys.argv[1] + '/', data=b'{}', headers={\n"
        "        'X-Amz-Target': 'secretsmanager.ListSecrets',\n"
        "        'Content-Type': 'application/x-amz-json-1.1'}),\n"
        "):\n"
        "    try:\n"
        "        codes.append(urllib.request.urlopen(request, timeout=10).status)\n"
        "    except urllib.error.HTTPError as error:\n"
        "        codes.append(error.code)\n"
        "print(codes)\n"
    )
    as_owner = subprocess.run(
        ["/usr/bin/python3", "-c", probe, moto], capture_output=True, text=True, check=True
    )
    assert "403" not in as_owner.stdout  # the owner's own tools still reach it
    if os.geteuid() != 0:
        pytest.skip("needs root to run the probe as another user")
    as_stranger = subprocess.run(
        ["/usr/bin/python3", "-c", probe, moto],
        capture_output=True,
        text=True,
        check=True,
        user=65534,
        group=65534,
        cwd="/",
    )
    assert as_stranger.stdout.strip() == "[403, 403]"
    assert key_file.read_text() not in httpx.get(f"{moto}/moto-api/data.json").text


# Its own deadline (600 s for the background seeding on a loaded machine) needs more than
# the suite's 300 s guard.
@pytest.mark.timeout(660)
def test_dev_loads_the_global_knowledge_base(runtime: Runtime) -> None:
    """Last in the module: `faultmaven dev` seeds the starter KB in the background, and a
    plain user finds its articles through search."""
    base = f"{runtime.base_url}/api/v1"
    user = {"email": "kb@example.com", "username": "kbreader", "password": STRONG_PASSWORD}
    assert httpx.post(f"{base}/auth/register", json=user, timeout=30).status_code == 201
    token = httpx.post(
        f"{base}/auth/login", json={"username": "kbreader", "password": STRONG_PASSWORD}, timeout=30
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 600
    total = 0
    while time.monotonic() < deadline:
        listed = httpx.get(
            f"{base}/knowledge/global/documents?page_size=1", headers=headers, timeout=30
        )
        total = listed.json()["total"]
        if total >= 30 and "global KB:" in runtime.log_tail():
            break
        time.sleep(2)
    assert total >= 30, runtime.log_tail()
    hits = httpx.post(
        f"{base}/knowledge/search",
        headers=headers,
        json={"query": "psql: FATAL: sorry, too many clients already", "scopes": ["global"]},
        timeout=30,
    ).json()["items"]
    assert hits and "connection" in hits[0]["title"].lower()


def test_the_offline_agent_answers_a_question_with_citations(runtime: Runtime) -> None:
    """After the global KB is seeded (the test above): upload → ask → a cited answer from
    the offline analyst, a hypothesis in the case, and the turn in the history."""
    from tests.integration.agent_helpers import POOL_LOG, ask, session_of
    from tests.integration.evidence_helpers import upload

    api = Api(HttpxClient(runtime.base_url))
    owner = api.user("olive")
    session_id = session_of(api, owner)
    case_id = api.case(owner, title="Checkout requests time out")["case_id"]
    evidence = upload(api, owner, case_id, "checkout-api.log", POOL_LOG.encode())
    assert evidence["status"] == "completed", evidence
    response = ask(
        api, owner, case_id, session_id, "Connection is not available, request timed out: why?"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"]["offline"] is True and "[offline analyst]" in body["content"]
    types = {s["type"] for s in body["sources"]}
    assert "log_file" in types and "documentation" in types  # the seeded global KB
    hypotheses = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert hypotheses
    history = api.call("GET", f"/history/sessions/{body['metadata']['history_session_id']}", owner)
    assert history.status_code == 200, history.text
    assert "search_knowledge" in history.text


def test_the_copilot_extensions_main_flow(runtime: Runtime) -> None:
    """FaultMaven's copilot pointed at `<base>/compat/faultmaven`, step by step as it
    calls: register → login → session → capabilities → a case with a null title → the
    list → a turn with a pasted log and a file → messages → the case header → close it;
    and an expired session answered the way the extension recovers from."""
    base = f"{runtime.base_url}/compat/faultmaven"
    http = httpx.Client(base_url=base, timeout=60)
    name = f"copilot{time.time_ns() % 10**8}"
    registered = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD},
    )
    assert registered.status_code == 201, registered.text
    login = http.post("/api/v1/auth/login", json={"username": name, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    session = http.post(
        "/api/v1/sessions",
        headers=auth,
        json={"client_id": "browser-1", "session_type": "troubleshooting", "timeout_minutes": 60},
    )
    assert session.status_code == 201, session.text
    headers = {**auth, "X-Session-Id": session.json()["session_id"]}
    caps = http.get("/v1/meta/capabilities").json()
    assert caps["deploymentMode"] == "self-hosted"
    created = http.post("/api/v1/cases", headers=headers, json={"title": None, "priority": "high"})
    assert created.status_code == 201 and created.headers["x-title-source"] == "generated"
    case_id = created.json()["case_id"]
    listed = http.get("/api/v1/cases", headers=headers, params={"limit": 100, "offset": 0}).json()
    assert [c["case_id"] for c in listed["cases"]] == [case_id]
    assert listed["cases"][0]["enterprise_id"]
    log = (
        "2026-11-30T10:02:13Z ERROR checkout-api HikariPool-1 - Connection is not available,"
        " request timed out after 30000ms\n"
    ) * 3
    sent = http.post(
        f"/api/v1/cases/{case_id}/turns",
        headers={**headers, "Idempotency-Key": "ai-msg-1"},
        files=[
            ("query", (None, "Checkout times out. What is going on?")),
            ("pasted_content", (None, "$ kubectl get pods\ncheckout-api 0/1 CrashLoopBackOff\n")),
            ("files", ("checkout-api.log", log.encode(), "text/plain")),
        ],
    )
    assert sent.status_code in (200, 202), sent.text
    if sent.status_code == 202:
        location = sent.headers["location"]
        for _ in range(600):
            polled = http.get(location, headers=headers).json()
            if polled["status"] in ("completed", "failed"):
                break
            time.sleep(0.5)
        assert polled["status"] == "completed", polled
        reply = polled["result"]
    else:
        reply = sent.json()
    assert reply["agent_response"] and reply["turn_number"] == 1
    assert {a["filename"] for a in reply["attachments_processed"]} == {
        "pasted.txt",
        "checkout-api.log",
    }
    messages = http.get(
        f"/api/v1/cases/{case_id}/messages", headers=headers, params={"limit": 100, "offset": 0}
    ).json()
    assert [m["role"] for m in messages["messages"]] == ["user", "assistant"]
    ui = http.get(f"/api/v1/cases/{case_id}/ui", headers=headers).json()
    assert ui["current_turn"] == 1 and ui["uploaded_files_count"] == 2
    closed = http.post(
        f"/api/v1/cases/{case_id}/turns",
        headers=headers,
        files=[
            ("intent_type", (None, "status_transition")),
            (
                "intent_data",
                (None, json.dumps({"type": "status_transition", "to_state": "closed"})),
            ),
        ],
    )
    assert closed.status_code == 200 and closed.json()["case_state"] == "closed"
    assert http.post(f"/api/v1/cases/{case_id}/archive", headers=headers).status_code == 200
    # The session ends (expired, or ended elsewhere): SESSION_EXPIRED, a new session, retry.
    ended = httpx.delete(
        f"{runtime.base_url}/api/v1/sessions/{headers['X-Session-Id']}", headers=auth, timeout=30
    )
    assert ended.status_code == 204
    stale = http.get("/api/v1/cases", headers=headers)
    assert stale.status_code == 401 and stale.json()["code"] == "SESSION_EXPIRED"
    fresh = http.post("/api/v1/sessions", headers=auth, json={"client_id": "browser-2"})
    retried = http.get(
        "/api/v1/cases", headers={**auth, "X-Session-Id": fresh.json()["session_id"]}
    )
    assert retried.status_code == 200 and retried.json()["cases"][0]["state"] == "closed"
