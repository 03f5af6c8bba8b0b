"""No knowledge leaks: every document access configuration × every relation of a caller,
through the real app (PostgreSQL + pgvector, Redis, the local embedding model).

For each (document, caller) the expected answer is written out below, not computed with
`knowledge.access`: GET by id, the document list, keyword search on the document's
unique marker word, and meaning-only searches whose every hit must be a document the
caller may read. Admins manage any document *by id*, but list and search only what they
are granted, like everyone else (search filters by reader tokens, and an admin holds no
more tokens than any user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faultmaven.container import Container
from tests.helpers import Api, User, assert_envelope
from tests.integration.evidence_helpers import wait_for_job

MANAGE, WRITE, READ = "manage", "write", "read"

# Each document: a unique marker word (for keyword search) and a topic of its own (for
# searches by meaning). Titles are distinctive so a 404 can be checked for leaking them.
TOPICS: dict[str, tuple[str, str, str]] = {
    "private": (
        "zxqvprivate",
        "Quillfeather TLS rotation",
        "Rotate the ingress TLS certificates before they expire; cert-manager renews "
        "them thirty days ahead and reloads nginx without dropping connections.",
    ),
    "user_read": (
        "zxqvuserread",
        "Marrowbyte disk pressure",
        "When a node's root filesystem is full, kubelet evicts pods. Clean the image "
        "cache with crictl rmi --prune and expand the volume.",
    ),
    "user_write": (
        "zxqvuserwrite",
        "Thistlewick DNS timeouts",
        "Pods cannot resolve service names; CoreDNS answers NXDOMAIN for search-path "
        "expansions. Set ndots to 2 in the dnsConfig.",
    ),
    "team_share": (
        "zxqvteamshare",
        "Brambleknot memory leak",
        "The JVM heap grows until the container is OOMKilled. Take a heap dump with "
        "jmap and look for an unbounded cache.",
    ),
    "org_share": (
        "zxqvorgshare",
        "Cindergale Kafka lag",
        "Consumer group lag keeps growing on the orders topic; add partitions and "
        "consumers, and check for a slow downstream database.",
    ),
    "team_visibility": (
        "zxqvteamvis",
        "Wobblestone database failover",
        "The PostgreSQL primary is down; promote the replica with patronictl failover "
        "and repoint the connection pooler.",
    ),
    "org_visibility": (
        "zxqvorgvis",
        "Glimmerpike rate limiting",
        "Clients receive HTTP 429 from the API gateway; raise the burst limit or add "
        "exponential backoff with jitter to the retry policy.",
    ),
}
GLOBAL_MARKER = "zxqvglobal"
GLOBAL_TITLE = "Fennelwharf incident command"
GLOBAL_CONTENT = (
    "# Fennelwharf incident command\n\nDeclare an incident, name an incident commander, "
    f"open a bridge and post updates every thirty minutes. {GLOBAL_MARKER}\n"
)
# Searches by meaning only: no marker, a mix of every topic.
MEANING_QUERIES = (
    "certificate expiry on the load balancer",
    "node out of disk space",
    "name resolution failures inside the cluster",
    "java process killed for using too much memory",
    "message queue consumers falling behind",
    "primary database unavailable",
    "too many requests throttling",
)

RELATIONS = ("owner", "grantee", "team", "org", "stranger", "admin")

# What each relation holds on each document (absent: nothing). The grantee holds the
# direct user shares; the team share is a write share, the organization share a read one.
PERMISSIONS: dict[str, dict[str, str]] = {
    "private": {"owner": MANAGE},
    "user_read": {"owner": MANAGE, "grantee": READ},
    "user_write": {"owner": MANAGE, "grantee": WRITE},
    "team_share": {"owner": MANAGE, "team": WRITE},
    "org_share": {"owner": MANAGE, "team": READ, "org": READ},
    "team_visibility": {"owner": MANAGE, "team": READ},
    "org_visibility": {"owner": MANAGE, "team": READ, "org": READ},
}


@dataclass
class Groups:
    org_id: str
    team_id: str


@dataclass
class World:
    users: dict[str, User]
    groups: Groups
    documents: dict[str, str] = field(default_factory=dict)  # name -> document_id
    shares: dict[str, str] = field(default_factory=dict)  # name -> share_id
    global_id: str = ""


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def organize(
    api: Api, owner: User, team: list[User], org_only: list[User], stranger: User
) -> Groups:
    """The owner's organization with one team; the stranger in an organization and team
    of their own."""
    org_id = ok(api.call("POST", "/organizations", owner, json={"name": "Acme"}), 201)["org_id"]
    for member in (*team, *org_only):
        ok(
            api.call(
                "POST", f"/organizations/{org_id}/members", owner, json={"user_id": member.user_id}
            ),
            201,
        )
    team_id = ok(
        api.call("POST", f"/organizations/{org_id}/teams", owner, json={"name": "SRE"}), 201
    )["team_id"]
    for member in (owner, *team):
        ok(
            api.call("POST", f"/teams/{team_id}/members", owner, json={"user_id": member.user_id}),
            201,
        )
    other_org = ok(api.call("POST", "/organizations", stranger, json={"name": "Globex"}), 201)
    other_team = ok(
        api.call(
            "POST", f"/organizations/{other_org['org_id']}/teams", stranger, json={"name": "Ops"}
        ),
        201,
    )
    ok(
        api.call(
            "POST",
            f"/teams/{other_team['team_id']}/members",
            stranger,
            json={"user_id": stranger.user_id},
        ),
        201,
    )
    return Groups(org_id=org_id, team_id=team_id)


def search(api: Api, user: User, query: str, **fields: Any) -> list[dict[str, Any]]:
    response = api.call("POST", "/knowledge/search", user, json={"query": query, "k": 50, **fields})
    items: list[dict[str, Any]] = ok(response)["items"]
    return items


def make_world(api: Api, container: Container) -> World:
    owner, grantee, teammate, colleague, stranger = (api.user() for _ in range(5))
    admin = api.admin(container.auth.accounts)
    groups = organize(api, owner, [teammate], [colleague], stranger)
    users = {
        "owner": owner,
        "grantee": grantee,
        "team": teammate,
        "org": colleague,
        "stranger": stranger,
        "admin": admin,
    }
    return World(users=users, groups=groups)


def build_documents(api: Api, world: World, names: set[str]) -> None:
    """The named documents of `TOPICS` (all owned by the owner) and one global one."""
    owner, grantee = world.users["owner"], world.users["grantee"]
    placement = {
        "team_visibility": {"visibility": "team", "team_id": world.groups.team_id},
        "org_visibility": {"visibility": "organization", "org_id": world.groups.org_id},
    }
    for name in sorted(names):
        marker, title, text = TOPICS[name]
        body = {
            "title": title,
            "content": f"# {title}\n\n{text} {marker}\n",
            **placement.get(name, {}),
        }
        world.documents[name] = ok(api.call("POST", "/knowledge/documents", owner, json=body), 201)[
            "document_id"
        ]
    grants = {
        "user_read": ("user", grantee.user_id, READ),
        "user_write": ("user", grantee.user_id, WRITE),
        "team_share": ("team", world.groups.team_id, WRITE),
        "org_share": ("organization", world.groups.org_id, READ),
    }
    for name, (kind, grantee_id, permission) in grants.items():
        if name not in names:
            continue
        share = api.call(
            "POST",
            f"/knowledge/documents/{world.documents[name]}/shares",
            owner,
            json={"grantee_type": kind, "grantee_id": grantee_id, "permission": permission},
        )
        world.shares[name] = ok(share, 201)["share_id"]
    created = api.call(
        "POST",
        "/knowledge/global/documents",
        world.users["admin"],
        json={"title": GLOBAL_TITLE, "content": GLOBAL_CONTENT},
    )
    world.global_id = ok(created, 201)["document_id"]


def leaks(api: Api, world: World, permissions: dict[str, dict[str, str]]) -> list[str]:
    """Every disagreement between what the API shows and `permissions`, as text."""
    problems: list[str] = []
    by_id = {document_id: name for name, document_id in world.documents.items()}
    for relation in RELATIONS:
        user = world.users[relation]
        # Readable through list and search: the grants; an admin gets nothing extra.
        granted = {name for name in world.documents if relation in permissions[name]}
        searchable = {world.documents[name] for name in granted} | {world.global_id}

        listing = ok(api.call("GET", "/knowledge/documents?relation=all&page_size=100", user))
        listed = {by_id.get(d["document_id"], d["document_id"]) for d in listing["items"]}
        if listed != granted:
            problems.append(f"{relation}: list shows {sorted(listed)}, expected {sorted(granted)}")

        for name, document_id in world.documents.items():
            marker, title, _ = TOPICS[name]
            expected = MANAGE if relation == "admin" else permissions[name].get(relation)
            got = api.call("GET", f"/knowledge/documents/{document_id}", user)
            if expected is None:
                if got.status_code != 404:
                    problems.append(f"{relation} GET {name}: {got.status_code}, expected 404")
                else:
                    assert_envelope(got, 404, "DOCUMENT_NOT_FOUND")
                    if title in got.text or marker in got.text:
                        problems.append(f"{relation} GET {name}: the 404 leaks the document")
            elif got.status_code != 200 or got.json()["my_permission"] != expected:
                problems.append(f"{relation} GET {name}: {got.status_code} {got.text[:120]}")

            hits = search(api, user, marker, scopes=["user"])
            found = {h["document_id"] for h in hits}
            if (document_id in found) != (name in granted):
                problems.append(f"{relation} search {marker}: found={document_id in found}")
            if stray := found - searchable:
                problems.append(f"{relation} search {marker}: leaked {stray}")

        for query in MEANING_QUERIES:
            found = {h["document_id"] for h in search(api, user, query, scopes=["user", "global"])}
            if stray := found - searchable:
                problems.append(f"{relation} search {query!r}: leaked {stray}")
        global_hits = search(api, user, GLOBAL_MARKER, scopes=["global"])
        if world.global_id not in {h["document_id"] for h in global_hits}:
            problems.append(f"{relation}: the global document is not found")
    return problems


# The organization share has a test of its own below (with its revocation), which once
# found that "organization" did not fit kb_shares.grantee_type (migration 0004).
WITHOUT_ORG_SHARE = set(TOPICS) - {"org_share"}


def test_documents_are_read_only_by_who_may_read_them(api: Api, container: Container) -> None:
    world = make_world(api, container)
    users = world.users
    owner, grantee, teammate, colleague = (users[r] for r in ("owner", "grantee", "team", "org"))
    admin, stranger = users["admin"], users["stranger"]
    build_documents(api, world, WITHOUT_ORG_SHARE)

    assert leaks(api, world, PERMISSIONS) == []

    # Write vs read: content needs write, placement needs the owner.
    def patch(name: str, user: User, body: dict[str, Any]) -> Any:
        return api.call("PATCH", f"/knowledge/documents/{world.documents[name]}", user, json=body)

    denied = patch("user_read", grantee, more("user_read"))
    assert_envelope(denied, 403, "INSUFFICIENT_DOCUMENT_PERMISSION")
    assert ok(patch("user_write", grantee, more("user_write")))["version"] == 2
    assert_envelope(
        patch("user_write", grantee, {"visibility": "organization", "org_id": world.groups.org_id}),
        403,
        "INSUFFICIENT_DOCUMENT_PERMISSION",
    )
    assert ok(patch("team_share", teammate, more("team_share")))["version"] == 2
    assert_envelope(
        patch("org_visibility", colleague, more("org_visibility")),
        403,
        "INSUFFICIENT_DOCUMENT_PERMISSION",
    )
    for name in world.documents:
        for relation in ("grantee", "team", "org", "stranger"):
            user = users[relation]
            deleted = api.call("DELETE", f"/knowledge/documents/{world.documents[name]}", user)
            if relation in PERMISSIONS[name]:
                assert_envelope(deleted, 403, "INSUFFICIENT_DOCUMENT_PERMISSION")
            else:
                assert_envelope(deleted, 404, "DOCUMENT_NOT_FOUND")
                assert_envelope(patch(name, user, more(name)), 404, "DOCUMENT_NOT_FOUND")
    # An admin manages any document by id, though it never lists or finds it.
    renamed = patch("private", admin, {"title": "Quillfeather TLS rotation (reviewed)"})
    assert (ok(renamed)["my_permission"], renamed.json()["version"]) == (MANAGE, 2)

    # Revocation: the former readers find nothing, by search, list or id.
    revoke(api, world, "user_read")
    assert ok(patch("org_visibility", owner, {"visibility": "shared"}))["visibility"] == "shared"
    assert ok(patch("team_visibility", owner, {"visibility": "private"}))["visibility"] == "private"
    revoked = {
        **PERMISSIONS,
        "user_read": {"owner": MANAGE},
        "org_visibility": {"owner": MANAGE},
        "team_visibility": {"owner": MANAGE},
    }
    assert leaks(api, world, revoked) == []

    # The global document: everyone reads it (checked in `leaks`), only the admin writes.
    global_path = f"/knowledge/documents/{world.global_id}"
    for relation in ("owner", "grantee", "team", "org", "stranger"):
        user = users[relation]
        assert ok(api.call("GET", global_path, user))["my_permission"] == READ
        for method, body in (("PATCH", {"title": "mine now"}), ("DELETE", None)):
            refused = api.call(method, global_path, user, json=body)
            assert_envelope(refused, 403, "INSUFFICIENT_DOCUMENT_PERMISSION")
    renamed = api.call("PATCH", global_path, admin, json={"title": "Incident command"})
    assert ok(renamed)["version"] == 2
    assert api.call("DELETE", global_path, admin).status_code == 204
    assert search(api, stranger, GLOBAL_MARKER, scopes=["global"]) == []
    # And the admin deletes a user document it cannot even list.
    private_path = f"/knowledge/documents/{world.documents['private']}"
    assert api.call("DELETE", private_path, admin).status_code == 204
    assert_envelope(api.call("GET", private_path, owner), 404, "DOCUMENT_NOT_FOUND")
    assert container.vectors.count(document_id=world.documents["private"]) == 0


def test_an_organization_share_is_read_by_its_members_until_revoked(
    api: Api, container: Container
) -> None:
    world = make_world(api, container)
    build_documents(api, world, {"org_share"})

    assert leaks(api, world, PERMISSIONS) == []
    refused = api.call(
        "PATCH",
        f"/knowledge/documents/{world.documents['org_share']}",
        world.users["org"],
        json=more("org_share"),
    )
    assert_envelope(refused, 403, "INSUFFICIENT_DOCUMENT_PERMISSION")

    revoke(api, world, "org_share")
    assert leaks(api, world, {**PERMISSIONS, "org_share": {"owner": MANAGE}}) == []


def more(name: str) -> dict[str, str]:
    """A content change that keeps the document's marker."""
    marker, title, text = TOPICS[name]
    return {"content": f"# {title}\n\n{text} {marker}\n\nChecked again.\n"}


def revoke(api: Api, world: World, name: str) -> None:
    path = f"/knowledge/documents/{world.documents[name]}/shares/{world.shares[name]}"
    removed = api.call("DELETE", path, world.users["owner"])
    assert removed.status_code == 204, removed.text


# --- case memory ----------------------------------------------------------------------

CASE_MARKER = "zxqvcasememory"
CASE_LOG = "\n".join(
    f"2026-11-22T10:01:{i:02d}Z ERROR kafka consumer group orders-svc lag 120000 on "
    f"partition 7, rebalance in progress {CASE_MARKER}"
    for i in range(30)
)
CASE_RELATIONS = ("owner", "viewer", "collaborator", "team", "org", "stranger", "admin")
CASE_READERS = {
    "private": {"owner", "viewer", "collaborator", "admin"},
    "team": {"owner", "viewer", "collaborator", "admin", "team"},
    "organization": {"owner", "viewer", "collaborator", "admin", "team", "org"},
}


def test_case_memory_is_searched_only_by_readers_of_that_case(
    api: Api, container: Container
) -> None:
    owner, viewer, collaborator, teammate, colleague, stranger = (api.user() for _ in range(6))
    admin = api.admin(container.auth.accounts)
    groups = organize(api, owner, [teammate], [colleague], stranger)
    users = {
        "owner": owner,
        "viewer": viewer,
        "collaborator": collaborator,
        "team": teammate,
        "org": colleague,
        "stranger": stranger,
        "admin": admin,
    }
    placement = {
        "private": {},
        "team": {"team_id": groups.team_id},
        "organization": {"org_id": groups.org_id},
    }
    cases: dict[str, str] = {}
    jobs: dict[str, str] = {}
    evidence: dict[str, str] = {}
    # The same evidence in every case: only the case id tells their chunks apart.
    for visibility, where in placement.items():
        case_id = api.case(owner, title=f"Orders lag {visibility}", visibility=visibility, **where)[
            "case_id"
        ]
        api.share(owner, case_id, viewer, "viewer")
        api.share(owner, case_id, collaborator, "collaborator")
        accepted = ok(
            api.call("POST", f"/cases/{case_id}/evidence/text", owner, json={"content": CASE_LOG}),
            202,
        )
        cases[visibility], jobs[visibility] = case_id, accepted["job_id"]
        evidence[case_id] = accepted["evidence_id"]
    for job_id in jobs.values():
        assert wait_for_job(api, owner, job_id).status_code == 303

    problems: list[str] = []
    for visibility, case_id in cases.items():
        for relation in CASE_RELATIONS:
            for query in (CASE_MARKER, "consumer group falling behind"):
                body = {"query": query, "scopes": ["case"], "case_id": case_id, "k": 50}
                response = api.call("POST", "/knowledge/search", users[relation], json=body)
                if relation not in CASE_READERS[visibility]:
                    assert_envelope(response, 404, "CASE_NOT_FOUND")
                    assert "kafka" not in response.text and "Orders lag" not in response.text
                    continue
                hits = ok(response)["items"]
                if not hits:
                    problems.append(f"{relation} on the {visibility} case: no hits for {query!r}")
                others = {
                    (h["case_id"], h["document_id"])
                    for h in hits
                    if (h["scope"], h["case_id"], h["document_id"])
                    != ("case", case_id, evidence[case_id])
                }
                if others:
                    problems.append(f"{relation} on the {visibility} case got {others}")
            # With every scope at once, the case scope still yields only this case.
            if relation in CASE_READERS[visibility]:
                mixed = search(
                    api,
                    users[relation],
                    CASE_MARKER,
                    scopes=["case", "user", "global"],
                    case_id=case_id,
                )
                if {h["case_id"] for h in mixed if h["scope"] == "case"} != {case_id}:
                    problems.append(f"{relation} on the {visibility} case: mixed {mixed}")
    assert problems == []
    # Without naming a case, nobody (not even the owner or an admin) reaches case memory.
    for relation in ("owner", "admin"):
        assert search(api, users[relation], CASE_MARKER, scopes=["user", "global"]) == []
